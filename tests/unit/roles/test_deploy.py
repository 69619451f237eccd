"""The whole deploy (deploy.py, every role in its order) on a simulated host."""

import logging
from pathlib import Path

import pytest
from pyinfra.facts.hardware import NetworkDevices

import roles
from camgate import paths
from camgate.passwords import hash_password

from .harness import Cert, SimHost, converge, deploy, deploy_file
from .sites import DOMAIN, cam, site

DEPLOY = deploy_file(Path(roles.__file__).resolve().parent.parent / "deploy.py")
SITE_CERT = "/etc/ssl/cams/fullchain.pem"
SITE_KEY = "/etc/ssl/cams/privkey.pem"
TLS_FIELDS = {
    "letsencrypt": {"tls": "letsencrypt"},
    "selfsigned": {"tls": "selfsigned"},
    "provided": {"tls": "provided", "tls_certificate": SITE_CERT, "tls_key": SITE_KEY},
    "off": {"tls": "off"},
}


def full_site(tls_mode: str, **fields):
    cameras = (cam("front", record=True), cam("back", 21, encrypt=True), cam("garage", 22))
    return site(*cameras, **TLS_FIELDS[tls_mode], **fields)


def bare_host() -> SimHost:
    return SimHost().put(SITE_CERT, Cert((DOMAIN,))).put(SITE_KEY, "key\n", "0600")


@pytest.mark.parametrize("tls_mode", list(TLS_FIELDS))
def test_a_second_deploy_of_the_whole_site_changes_nothing(passwords, tls_mode):
    first, again = converge(DEPLOY, full_site(tls_mode), bare_host())

    assert first.changed
    assert again.changes() == []


@pytest.mark.parametrize("tls_mode", list(TLS_FIELDS))
def test_a_no_op_re_deploy_asks_the_host_twice(passwords, tls_mode):
    # Each round trip is slow on a busy host. What is left: the deploy's snapshot (roles.facts.snapshot)
    # and the recording folders of this site (they come from the inventory).
    _, again = converge(DEPLOY, full_site(tls_mode), bare_host())

    assert again.round_trips() == ["Together", "PathStates"]


@pytest.mark.parametrize("tls_mode", ["selfsigned", "provided", "off"])
def test_leaving_letsencrypt_deletes_the_lineage_only_after_nginx_stopped_using_it(passwords, tls_mode):
    _, settled = converge(DEPLOY, full_site("letsencrypt"), bare_host())

    first, again = converge(DEPLOY, full_site(tls_mode), settled.host_after())

    changes = first.changes()
    delete = changes.index("Delete the Let's Encrypt certificate (certbot delete)")
    if tls_mode == "off":  # nginx's new site no longer refers to any certificate
        assert changes.index("Test and apply the camgate site (nginx -t, reload)") < delete
    else:  # nginx serves the new certificate
        assert changes.index(next(name for name in changes if name.startswith("Serve the certificate in"))) < delete
    assert again.changes() == []


def test_the_deploy_leaves_the_web_root_owned_by_root(passwords):
    result = deploy(DEPLOY, full_site("selfsigned"), bare_host())

    assert not [command for command in result.commands() if "/var/www" in command]
    assert result.host_after().lookup("/var/www").user == "root"


def test_pyinfra_diff_output_never_shows_a_camera_password(passwords, caplog):
    _, settled = converge(DEPLOY, full_site("selfsigned"), bare_host())
    passwords(front="N3w-S3cret")

    with caplog.at_level(logging.INFO, logger="pyinfra"):
        result = deploy(DEPLOY, full_site("selfsigned"), settled.host_after(), diff=True)

    assert "Credentials of camera front" in result.changes()
    assert "N3w-S3cret" not in caplog.text and "pw-front" not in caplog.text


def test_turning_tls_on_again_after_leaving_letsencrypt_for_off_works(passwords):
    # nginx must never be told about a certificate that is gone (the harness's `nginx -t` fails then).
    _, on = converge(DEPLOY, full_site("letsencrypt"), bare_host())
    _, off = converge(DEPLOY, full_site("off"), on.host_after())

    result = deploy(DEPLOY, full_site("letsencrypt"), off.host_after())

    assert result.host_after().resolve("/etc/camgate/tls/current") == "/etc/letsencrypt/live/camgate"


def test_a_webrtc_site_gets_coturn_configured_before_its_package_the_engine_in_the_one_apt_run_and_converges(passwords):
    cameras = (cam("front", record=True, webrtc="main"), cam("back", 21, webrtc="main", audio="none"))
    host = bare_host()
    host.extra_facts[NetworkDevices] = {"lo": {"ipv4": {"address": "127.0.0.1"}}, "eth0": {"ipv4": {"address": "192.0.2.10"}}}
    first, again = converge(DEPLOY, site(*cameras, tls="selfsigned"), host)

    changes = first.changes()
    for config in ("coturn /etc/turnserver.conf (first)", "coturn.service drop-in"):
        assert changes.index(config) < changes.index("Install coturn"), config
    assert changes.index("WebRTC secrets (made on the gateway once)") < changes.index("Install coturn")
    # GStreamer starts no service of its own: it comes with the gateway's other packages.
    installed = first.host_after().packages
    assert {"gstreamer1.0-plugins-bad", "gstreamer1.0-nice", "python3-gi"} <= set(installed) and "janus" not in installed
    assert changes.index("Install the gateway's packages") < changes.index("WebRTC service enabled and running")
    assert again.changes() == []


def test_metrics_listen_on_loopback_from_the_first_start_converge_and_go_away_again(passwords, monkeypatch):
    monkeypatch.setenv("CAMGATE_TEST_METRICS_HASH", hash_password("scrape password 1"))
    metrics = {"metrics_from": ["198.51.100.7"], "metrics_password_ref": "env:CAMGATE_TEST_METRICS_HASH"}
    cameras = (cam("front", record=True), cam("back", 21))
    host = bare_host()
    first, again = converge(DEPLOY, site(*cameras, **metrics), host)
    changes = first.changes()
    # The package starts node exporter at once: camgate's drop-in (loopback only) is there before,
    # and the package comes in base's one apt run.
    assert changes.index("prometheus-node-exporter.service drop-in") < changes.index("Install the gateway's packages")
    assert "Install prometheus-node-exporter" not in changes
    assert changes.count("prometheus-node-exporter.service drop-in") == 1
    assert "Restart node exporter (changed)" not in changes
    assert changes.index("Record the deploy") == len(changes) - 1
    assert again.changes() == []

    off, settled = converge(DEPLOY, site(*cameras), again.host_after())
    assert "Stop node exporter" in off.changes() and f"Remove {paths.METRICS_CONFIG}" in off.changes()
    assert "Record the deploy" in off.changes()  # the declared configuration changed
    assert settled.changes() == []
