"""TLS choices: nginx settings per mode and version, when certbot runs, which certificate is served."""

import re

import pytest

from camgate.model import InventoryError, parse_gateway
from camgate.render import render_nginx_site
from camgate.paths import LETSENCRYPT_LIVE as LETSENCRYPT_DIR, TLS_PROVIDED as PROVIDED_DIR, TLS_SELFSIGNED as SELFSIGNED_DIR
from camgate.tls import (
    certbot_command,
    certificate_matches,
    expires_soon,
    letsencrypt_needs_issuing,
    nginx_version,
    parse_certificate_text,
    wanted_tls_dir,
)

OPENSSL_OUTPUT = """serial=04A1B2
notAfter=Feb 23 12:00:00 2099 GMT
X509v3 Subject Alternative Name: 
    DNS:cams.example.com, DNS:cams2.example.com, IP Address:10.0.0.2
"""


def gw(**fields):
    raw = {"domain": "cams.example.com", "acme_email": "ops@example.com", **fields}
    return parse_gateway("gw1", raw)


def server_blocks(site: str) -> list[str]:
    return re.split(r"\n(?=server \{)", site)[1:]


def test_https_site_redirects_port_80_except_acme_challenges():
    http, https = server_blocks(render_nginx_site(gw(), (1, 22, 1)))
    assert "location ^~ /.well-known/acme-challenge/" in http and "root /var/lib/camgate/acme;" in http
    assert "return 301 https://cams.example.com$request_uri;" in http
    assert "/hls/" not in http
    assert "listen 443 ssl http2 default_server;" in https


def test_https_site_uses_mozilla_intermediate_and_hsts_everywhere():
    site = render_nginx_site(gw(), (1, 22, 1))
    https = server_blocks(site)[1]
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in https
    assert "ssl_session_tickets off;" in https and "ssl_prefer_server_ciphers off;" in https
    assert "ssl_certificate /etc/camgate/tls/current/fullchain.pem;" in https
    ciphers = re.search(r"ssl_ciphers (\S+);", https).group(1).split(":")
    assert ciphers and all(c.startswith("ECDHE-") and ("GCM" in c or "CHACHA20" in c) for c in ciphers)
    # add_header in a location hides the server's: every stream location repeats HSTS.
    for location in re.findall(r'location ~ "[^"]+" \{.*?\n    \}', https, re.S):
        assert 'Strict-Transport-Security "max-age=63072000" always;' in location


def test_http2_directive_follows_the_nginx_version():
    assert "http2 on;" in render_nginx_site(gw(), (1, 26, 0))
    assert "ssl http2" not in render_nginx_site(gw(), (1, 26, 0))
    assert "listen 443 ssl http2" in render_nginx_site(gw(), (1, 18, 0))


@pytest.mark.parametrize(
    ("installed", "distro", "release", "version"),
    [
        ("1.22.1-9+deb12u1", "debian", "12", (1, 22, 1)),
        (None, "ubuntu", "22.04", (1, 18, 0)),
        (None, "ubuntu", "24.04", (1, 24, 0)),
        (None, "debian", "12.7", (1, 22, 1)),
        ("1.26.3-3ubuntu1", "ubuntu", "25.04", (1, 26, 3)),
    ],
)
def test_nginx_version_prefers_installed_then_distribution(installed, distro, release, version):
    assert nginx_version(installed, distro, release) == version


def test_plain_http_only_when_chosen():
    site = render_nginx_site(gw(tls="off"), (1, 22, 1))
    assert "ssl" not in site and "listen 80 default_server;" in site and "secure_link" in site
    assert gw(tls="off").base_url == "http://cams.example.com"


def test_openssl_output_is_parsed():
    cert = parse_certificate_text(OPENSSL_OUTPUT)
    assert cert == {
        "names": ["cams.example.com", "cams2.example.com", "10.0.0.2"],
        "serial": "04A1B2",
        "not_after": "Feb 23 12:00:00 2099 GMT",
    }
    assert parse_certificate_text("") is None


def test_certbot_runs_only_for_missing_renamed_or_moved_certificates():
    gateway = gw(alt_domains=["cams2.example.com"])
    cert = {"names": ["cams2.example.com", "cams.example.com"], "serial": "1", "not_after": "Feb 23 12:00:00 2099 GMT"}
    server = [f"server = {gateway.acme_server}"]
    assert not letsencrypt_needs_issuing(gateway, cert, server)
    assert letsencrypt_needs_issuing(gateway, None, None)
    assert letsencrypt_needs_issuing(gw(), cert, server)  # names changed
    assert letsencrypt_needs_issuing(gateway, cert, ["server = https://acme-staging-v02.api.letsencrypt.org/directory"])


def test_certbot_command_uses_the_webroot_and_every_name():
    argv = certbot_command(gw(alt_domains=["cams2.example.com"]))
    assert argv[:2] == ["certbot", "certonly"] and "--non-interactive" in argv
    assert argv[argv.index("--webroot-path") + 1] == "/var/lib/camgate/acme"
    assert argv[argv.index("--cert-name") + 1] == "camgate"
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "-d"] == ["cams.example.com", "cams2.example.com"]


def test_served_directory_per_mode():
    assert wanted_tls_dir(gw(), letsencrypt_ready=False) == SELFSIGNED_DIR  # placeholder before issuance
    assert wanted_tls_dir(gw(), letsencrypt_ready=True) == LETSENCRYPT_DIR
    assert wanted_tls_dir(gw(tls="selfsigned"), letsencrypt_ready=True) == SELFSIGNED_DIR
    provided = gw(tls="provided", tls_certificate="/etc/ssl/a.pem", tls_key="/etc/ssl/a.key")
    assert wanted_tls_dir(provided, letsencrypt_ready=False) == PROVIDED_DIR
    assert wanted_tls_dir(gw(tls="off"), letsencrypt_ready=False) is None


def test_selfsigned_certificate_is_remade_for_new_names_or_near_expiry():
    cert = parse_certificate_text(OPENSSL_OUTPUT)
    assert certificate_matches(cert, ("cams.example.com", "cams2.example.com", "10.0.0.2"))
    assert not certificate_matches(cert, ("cams.example.com",))
    assert expires_soon("Jan  1 00:00:00 2000 GMT") and not expires_soon("Feb 23 12:00:00 2099 GMT")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"domain": "10.0.0.2"}, "field 'domain': '10.0.0.2' is an IP address"),
        ({"acme_email": None}, "field 'acme_email': is required with tls='letsencrypt'"),
        ({"acme_email": "nobody"}, "field 'acme_email': 'nobody' is not an email address"),
        ({"acme_server": "http://acme.example/dir"}, "field 'acme_server'"),
        ({"tls": "provided"}, "field 'tls_certificate': is required with tls='provided'"),
        ({"tls_key": "/etc/ssl/k.pem"}, "field 'tls_key': is only used with tls='provided'"),
        ({"tls": "provided", "tls_certificate": "relative.pem", "tls_key": "/k"}, "field 'tls_certificate'"),
        ({"alt_domains": ["10.0.0.3"]}, "field 'alt_domains': '10.0.0.3' is not a DNS name"),
        ({"alt_domains": ["a.example.com", "a.example.com"]}, "lists a name twice"),
        ({"tls": "https"}, "field 'tls': 'https' is not one of"),
        ({"https_port": 80}, "field 'https_port': equals http_port"),
    ],
)
def test_bad_tls_settings_are_rejected_with_a_fix(fields, message):
    with pytest.raises(InventoryError) as info:
        gw(**fields)
    assert message in str(info.value) and "fix:" in str(info.value)


def test_selfsigned_site_may_use_an_ip_address():
    assert gw(tls="selfsigned", domain="10.0.0.2").certificate_names == ("10.0.0.2",)


@pytest.mark.parametrize(
    ("distro", "release", "missing"),
    [("debian", "12", False), ("debian", "12.7", False), ("ubuntu", "24.04", False), ("ubuntu", "22.04", True), ("debian", "11", True)],
)
def test_releases_without_njs_are_refused_before_any_change(distro, release, missing):
    from camgate.tls import njs_missing

    assert njs_missing(distro, release) is missing
