"""roles.tls and roles.letsencrypt on a simulated host: which certificate nginx is pointed at, when
certbot runs, and what switching away from Let's Encrypt leaves behind (nothing)."""

import shlex

import pytest

from roles.letsencrypt import letsencrypt
from roles.tls import tls

from .harness import Cert, SimHost, converge, deploy
from .sites import DOMAIN, site

CURRENT = "/etc/camgate/tls/current"
SELFSIGNED = "/etc/camgate/tls/selfsigned"
PROVIDED = "/etc/camgate/tls/provided"
LINEAGE = "/etc/letsencrypt/live/camgate"
RENEWAL_CONF = "/etc/letsencrypt/renewal/camgate.conf"
HOOK = "/etc/letsencrypt/renewal-hooks/deploy/camgate-reload-nginx"
DROPIN = "/etc/systemd/system/certbot.service.d/camgate.conf"
CA_BUNDLE = "/etc/camgate/acme-ca.pem"
USE = "/usr/local/lib/camgate/camgate-tls-use"
SITE_CERT = "/etc/ssl/cams/fullchain.pem"
SITE_KEY = "/etc/ssl/cams/privkey.pem"

LEFTOVERS = (LINEAGE, RENEWAL_CONF, HOOK, DROPIN, CA_BUNDLE)


def provided_site():
    return site(tls="provided", tls_certificate=SITE_CERT, tls_key=SITE_KEY)


def with_site_certificate(host: SimHost) -> SimHost:
    return host.put(SITE_CERT, Cert((DOMAIN,))).put(SITE_KEY, "key\n", "0600")


def site_for(mode: str, **fields):
    return provided_site() if mode == "provided" else site(tls=mode, **fields)


@pytest.fixture
def letsencrypt_host(tmp_path) -> SimHost:
    """A host serving a Let's Encrypt certificate, deployed with a private ACME CA: lineage, renewal
    config, deploy hook, certbot.service drop-in, CA bundle, certbot.timer running and enabled."""
    bundle = tmp_path / "acme-ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nprivate ACME CA\n-----END CERTIFICATE-----\n")
    first, again = converge([tls, letsencrypt], site(tls="letsencrypt", acme_ca_bundle=str(bundle)))
    assert first.changed and not again.changed
    host = with_site_certificate(again.host_after())
    assert all(host.lookup(path) for path in LEFTOVERS)
    assert host.resolve(CURRENT) == LINEAGE
    assert "certbot.timer" in host.running & host.enabled
    return host


def test_switching_selfsigned_to_provided_points_current_at_the_provided_files():
    _, settled = converge(tls, site(tls="selfsigned"))
    host = with_site_certificate(settled.host_after())
    assert host.resolve(CURRENT) == SELFSIGNED

    result = deploy(tls, provided_site(), host)

    assert result.op(f"Serve the certificate in {PROVIDED}").commands == [f"{USE} {PROVIDED}"]
    assert "Self-signed certificate from the gateway CA" not in result.names()
    after = result.host_after()
    assert after.resolve(CURRENT) == PROVIDED
    assert after.resolve(f"{CURRENT}/fullchain.pem") == SITE_CERT
    assert after.resolve(f"{CURRENT}/privkey.pem") == SITE_KEY


def test_a_first_letsencrypt_deploy_serves_a_self_signed_placeholder_then_runs_certbot():
    result = deploy([tls, letsencrypt], site(tls="letsencrypt"))

    changes = result.changes()
    placeholder = changes.index(f"Serve the certificate in {SELFSIGNED}")
    issue = changes.index(f"Obtain a certificate for {DOMAIN} (certbot, webroot)")
    assert changes.index("Self-signed certificate from the gateway CA") < placeholder < issue
    (command,) = result.op(f"Obtain a certificate for {DOMAIN} (certbot, webroot)").commands
    certbot, use = command.split(" && ")
    argv = shlex.split(certbot)
    assert argv[:2] == ["certbot", "certonly"]
    assert {"--webroot", "--non-interactive"} <= set(argv)
    assert argv[argv.index("--cert-name") + 1] == "camgate"
    assert argv[argv.index("--webroot-path") + 1] == "/var/lib/camgate/acme"
    assert argv[argv.index("-d") + 1] == DOMAIN
    assert use == f"{USE} {LINEAGE}"
    after = result.host_after()
    assert after.resolve(CURRENT) == LINEAGE
    assert "certbot.timer" in after.running & after.enabled


def test_a_letsencrypt_redeploy_never_contacts_the_ca():
    first, again = converge([tls, letsencrypt], site(tls="letsencrypt"))

    assert any(command.startswith("certbot certonly") for command in first.commands())
    assert again.changes() == []


def test_tls_off_declares_nothing_for_tls():
    result = deploy([tls, letsencrypt], site(tls="off"))

    assert result.names() == []


# --- leaving Let's Encrypt ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["selfsigned", "provided", "off"])
def test_leaving_letsencrypt_deletes_the_lineage_hook_dropin_and_ca_bundle_and_stops_the_timer(letsencrypt_host, mode):
    result = deploy([tls, letsencrypt], site_for(mode), letsencrypt_host)

    commands = result.commands()
    deletes = [c for c in commands if shlex.split(c)[:2] == ["certbot", "delete"]]
    assert len(deletes) == 1, f"expected one `certbot delete`, the deploy ran {commands}"
    argv = shlex.split(deletes[0])
    assert argv[argv.index("--cert-name") + 1] == "camgate" and "--non-interactive" in argv
    assert commands.index(f"rm -f {DROPIN}") < commands.index("systemctl daemon-reload")
    after = result.host_after()
    assert [path for path in LEFTOVERS if after.lookup(path)] == []
    assert "certbot.timer" not in after.running | after.enabled
    if mode == "off":  # nothing serves TLS: no link to a deleted certificate either
        assert after.lookup(CURRENT, follow=False) is None
    else:
        assert after.resolve(CURRENT) == (PROVIDED if mode == "provided" else SELFSIGNED)


def test_leaving_letsencrypt_keeps_certbot_timer_while_another_lineage_needs_it(letsencrypt_host):
    letsencrypt_host.put("/etc/letsencrypt/renewal/www.conf", "server = https://acme-v02.api.letsencrypt.org/directory\n")

    result = deploy([tls, letsencrypt], site(tls="selfsigned"), letsencrypt_host)

    after = result.host_after()
    assert [path for path in LEFTOVERS if after.lookup(path)] == []
    assert "certbot.timer" in after.running & after.enabled
    assert not [c for c in result.commands() if "certbot.timer" in c]


@pytest.mark.parametrize("mode", ["selfsigned", "provided", "off"])
def test_leaving_letsencrypt_is_done_once(letsencrypt_host, mode):
    first, again = converge([tls, letsencrypt], site_for(mode), letsencrypt_host)

    assert first.changed
    assert again.changes() == []


@pytest.mark.parametrize("mode", ["selfsigned", "provided", "off"])
def test_a_host_that_never_used_letsencrypt_is_left_alone(mode):
    # certbot installed for something else, its timer running: not camgate's to stop.
    host = with_site_certificate(SimHost(packages={"certbot": "2.1.0-4"}))
    _, settled = converge(tls, site_for(mode), host)

    result = deploy(letsencrypt, site_for(mode), settled.host_after())

    assert result.names() == []
    assert "certbot.timer" in result.host_after().running & result.host_after().enabled
