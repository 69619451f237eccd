"""HTTPS from a real ACME server (pebble fetching the HTTP-01 token from nginx): issuance on a bare
host, redirects, protocols, HSTS and HTTP/2, renewal without a restart, new names, self-signed mode."""

import os
import socket
import ssl
import subprocess
import sys
import warnings

import pytest

from camgate import paths
from tests.players.hls import Client
from tests.testbed.proc import wait_until
from tests.conftest import phase
from tests.integration.conftest import INVENTORY, ROOT, grand_total

# The certificate from the ACME server and how it is served are part of the subset every tested
# release runs (conftest.EVERY_RELEASE); the switches between TLS modes run on Debian 12 only.
every_release = pytest.mark.every_release


def output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def dns_names(cert: dict) -> set[str]:
    return {value for kind, value in cert.get("subjectAltName", ()) if kind == "DNS"}


def handshake(state, gateway, cafile, version: ssl.TLSVersion, alpn: list[str] | None = None) -> ssl.SSLSocket:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # offering TLS 1.0/1.1 is the point here
        ctx.minimum_version = ctx.maximum_version = version
    if version < ssl.TLSVersion.TLSv1_2:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this client offer the old protocols at all
    if alpn:
        ctx.set_alpn_protocols(alpn)
    sock = socket.create_connection((state["target_address"], gateway.https_port), timeout=5)
    return ctx.wrap_socket(sock, server_hostname=gateway.domain)


@every_release
def test_certificate_from_the_acme_server_verifies_and_names_the_domain(gateway, client):
    cert = client.peer_certificate(gateway.base_url)  # raises unless it verifies against pebble's root
    assert dns_names(cert) == set(gateway.certificate_names)
    issuer = dict(item[0] for item in cert["issuer"])
    assert "Pebble" in issuer["commonName"]


@every_release
def test_http_redirects_to_https_but_acme_challenges_stay_on_http(gateway, client, host):
    plain = f"http://{gateway.domain}"
    resp = client.fetch(f"{plain}/hls/cam1/stream.m3u8")
    assert resp.status == 301
    assert resp.headers["location"] == f"https://{gateway.domain}/hls/cam1/stream.m3u8"
    token_dir = "/var/lib/camgate/acme/.well-known/acme-challenge"
    host.run_expect([0], f"mkdir -p {token_dir} && echo camgate-token > {token_dir}/probe-token")
    try:
        resp = client.fetch(f"{plain}/.well-known/acme-challenge/probe-token")
        assert resp.status == 200 and resp.body == b"camgate-token\n"
    finally:
        host.run(f"rm -f {token_dir}/probe-token")


@every_release
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_tls_1_0_and_1_1_handshakes_are_refused(state, gateway, acme_root, version):
    with pytest.raises(ssl.SSLError) as info:
        handshake(state, gateway, acme_root, version).close()
    # The server's own refusal (a protocol_version alert), not this client being unable to try.
    assert "PROTOCOL_VERSION" in str(info.value).upper() or "UNSUPPORTED_PROTOCOL" in str(info.value).upper()


@every_release
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls_1_2_and_1_3_handshakes_succeed(state, gateway, acme_root, version):
    with handshake(state, gateway, acme_root, version) as sock:
        assert sock.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]


@every_release
def test_streams_carry_hsts_and_speak_http2(state, gateway, client, acme_root, signed):
    resp = client.fetch(signed("cam1"))
    assert resp.status == 200
    assert resp.headers["strict-transport-security"] == "max-age=63072000"
    with handshake(state, gateway, acme_root, ssl.TLSVersion.TLSv1_3, alpn=["h2", "http/1.1"]) as sock:
        assert sock.selected_alpn_protocol() == "h2"


@every_release
def test_renewal_is_timer_driven_and_served_without_restarting_nginx(gateway, client, host, signed):
    assert host.service("certbot.timer").is_enabled and host.service("certbot.timer").is_running
    serial = client.peer_certificate(gateway.base_url)["serialNumber"]
    # TURN over TLS (coturn, for WebRTC viewers) serves the same certificate, and the renewed one after;
    # a gateway without WebRTC cameras runs no coturn.
    turns = f"https://{gateway.domain}:{gateway.turns_port}/" if gateway.webrtc_cameras else None
    if turns:
        assert client.peer_certificate(turns)["serialNumber"] == serial
    nginx_pid = host.check_output("systemctl show -p MainPID --value nginx")
    with phase("certbot renew --force-renewal"):
        host.run_expect(
            [0],
            "REQUESTS_CA_BUNDLE=/etc/camgate/acme-ca.pem certbot renew --force-renewal --no-random-sleep-on-renew",
        )
    # A reload is asynchronous: new workers take over within moments.
    assert wait_until(lambda: client.peer_certificate(gateway.base_url)["serialNumber"] != serial, timeout=10)
    assert host.check_output("systemctl show -p MainPID --value nginx") == nginx_pid
    assert client.fetch(signed("cam1")).status == 200
    renewed = client.peer_certificate(gateway.base_url)["serialNumber"]
    if turns:
        assert wait_until(lambda: client.peer_certificate(turns)["serialNumber"] == renewed, timeout=30)


def test_a_changed_domain_list_is_reissued_and_then_left_alone(deployer, client, state):
    extra = f"cams2.{state['domain']}"
    with phase("deploy with a new name"):
        deployer.run(alt_domains=[extra])
    gateway = deployer.gateway()
    cert = client.peer_certificate(gateway.base_url)
    assert dns_names(cert) == {state["domain"], extra}
    assert dns_names(client.peer_certificate(f"https://{extra}/")) == {state["domain"], extra}
    total = grand_total(output(deployer.run()))
    assert total["success"] == "-" and total["error"] == "-"
    assert client.peer_certificate(gateway.base_url)["serialNumber"] == cert["serialNumber"]


def test_selfsigned_mode_serves_a_certificate_signed_by_the_ca_the_cli_exports(deployer, state, tmp_path, signed):
    with phase("deploy in selfsigned mode"):
        deployer.run(tls="selfsigned")
    ca_file = tmp_path / "gateway-ca.pem"
    result = subprocess.run(
        [sys.executable, "-m", "camgate.cli", "tls-ca", INVENTORY, "--out", str(ca_file)],
        cwd=ROOT, env=deployer.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "SHA-256 fingerprint: " in result.stderr
    gateway = deployer.gateway()
    own_ca = Client(connect_to=state["target_address"], cafile=str(ca_file))
    assert dns_names(own_ca.peer_certificate(gateway.base_url)) == set(gateway.certificate_names)
    own_ca.wait_for_playlist(signed("cam1"), timeout=10)
    total = grand_total(output(deployer.run()))
    assert total["success"] == "-" and total["error"] == "-"
    assert os.path.getsize(ca_file) > 0


def test_leaving_letsencrypt_removes_certbots_lineage_hook_drop_in_and_timer(host):
    """The selfsigned deploy before switched away from letsencrypt: nothing of certbot's is left to renew."""
    for path in (paths.LETSENCRYPT_LIVE, paths.LETSENCRYPT_RENEWAL_CONF, paths.LETSENCRYPT_RENEWAL_HOOK,
                 paths.CERTBOT_DROPIN, paths.ACME_CA_BUNDLE):  # fmt: skip
        assert not host.file(path).exists, path
    assert not host.service(paths.CERTBOT_TIMER).is_enabled
    assert host.run("certbot certificates").stdout.count("Certificate Name:") == 0


def test_provided_mode_serves_the_sites_own_certificate(deployer, host, state, tmp_path):
    site = "/etc/ssl/camgate-site"
    host.run_expect(
        [0],
        f"mkdir -p {site} && cd {site} && "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 "
        f"-subj /CN={state['domain']} -addext subjectAltName=DNS:{state['domain']} "
        "-keyout privkey.pem -out fullchain.pem 2>/dev/null && chmod 600 privkey.pem",
    )
    own_cert = tmp_path / "site.pem"
    own_cert.write_text(host.file(f"{site}/fullchain.pem").content_string)
    with phase("deploy in provided mode"):
        deployer.run(tls="provided", alt_domains=[])
    gateway = deployer.gateway()
    site_client = Client(connect_to=state["target_address"], cafile=str(own_cert))
    assert dns_names(site_client.peer_certificate(gateway.base_url)) == {state["domain"]}
    total = grand_total(output(deployer.run()))
    assert total["success"] == "-" and total["error"] == "-"
    deployer.run(tls="letsencrypt")  # back to the suite's mode for whatever runs after
