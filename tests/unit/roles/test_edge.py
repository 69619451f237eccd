"""The whole deploy (deploy.py) of a caching edge and of its gateway on simulated hosts."""

from pathlib import Path

import pytest

import roles
from camgate import paths
from camgate.inventory import edge, edges_of
from camgate.passwords import hash_password

from .harness import converge, deploy, deploy_file
from .sites import cam, site

DEPLOY = deploy_file(Path(roles.__file__).resolve().parent.parent / "deploy.py")
URL_SECRET, CREDENTIAL = "u" * 32, "e" * 32


@pytest.fixture
def edge_site(monkeypatch, passwords):
    monkeypatch.setenv("CAMGATE_TEST_URL_SECRET", URL_SECRET)
    monkeypatch.setenv("CAMGATE_TEST_EDGE1", CREDENTIAL)
    declared = edge("edge1.example.com", address="198.51.100.20", secret_ref="env:CAMGATE_TEST_EDGE1", acme_email="ops@example.com",
                    tls="selfsigned")  # fmt: skip
    gateway = site(cam("front"), cam("back", 21, encrypt=True), url_secret_ref="env:CAMGATE_TEST_URL_SECRET", edges=[declared],
                   tls="letsencrypt")  # fmt: skip
    (edge_host,) = edges_of([gateway])
    return gateway, edge_host


def test_an_edge_gets_nginx_with_its_cache_and_secrets_and_no_camera(edge_site):
    _gateway, edge_host = edge_site
    first, again = converge(DEPLOY, edge_host)

    assert again.changes() == []
    host = first.host_after()
    secrets = host.lookup(paths.EDGE_SECRETS_CONF)
    assert (secrets.mode, secrets.user) == (0o600, "root") and URL_SECRET in host.content(paths.EDGE_SECRETS_CONF)
    assert "proxy_cache_path" in host.content(paths.NGINX_SITE)
    cache = host.lookup(paths.EDGE_CACHE_DIR)
    assert (cache.kind, cache.mode, cache.user) == ("directory", 0o700, "www-data")
    assert "ffmpeg" not in host.packages and "nginx" in host.packages
    assert not [p for p in host.paths if "camgate-camera-" in p]
    assert CREDENTIAL not in "\n".join(first.commands())


def test_the_gateway_of_an_edge_holds_its_credential_root_only_and_converges(edge_site):
    gateway, _edge_host = edge_site
    first, again = converge(DEPLOY, gateway)

    assert again.changes() == []
    keys = first.host_after().lookup(paths.EDGE_KEYS_CONF)
    assert (keys.mode, keys.user) == (0o600, "root") and CREDENTIAL in first.host_after().content(paths.EDGE_KEYS_CONF)
    assert "listen 8443 ssl;" in first.host_after().content(paths.NGINX_SITE)


def test_removing_the_edges_closes_the_origin_port(edge_site, passwords):
    gateway, _edge_host = edge_site
    _, settled = converge(DEPLOY, gateway)
    plain = site(cam("front"), cam("back", 21, encrypt=True), url_secret_ref="env:CAMGATE_TEST_URL_SECRET", tls="letsencrypt")

    result = deploy(DEPLOY, plain, settled.host_after())

    assert "8443" not in result.host_after().content(paths.NGINX_SITE)
    assert CREDENTIAL not in result.host_after().content(paths.EDGE_KEYS_CONF)


def test_edge_metrics_run_mtail_on_loopback_from_its_first_start_and_go_away_again(monkeypatch, passwords):
    monkeypatch.setenv("CAMGATE_TEST_URL_SECRET", URL_SECRET)
    monkeypatch.setenv("CAMGATE_TEST_EDGE1", CREDENTIAL)
    monkeypatch.setenv("CAMGATE_TEST_METRICS_HASH", hash_password("scrape password 1"))
    common = {"address": "198.51.100.20", "secret_ref": "env:CAMGATE_TEST_EDGE1", "tls": "selfsigned"}
    metrics = {"metrics_from": ["198.51.100.7"], "metrics_password_ref": "env:CAMGATE_TEST_METRICS_HASH"}

    def edge_host(**fields):
        declared = edge("edge1.example.com", **common, **fields)
        gateway = site(cam("front"), url_secret_ref="env:CAMGATE_TEST_URL_SECRET", edges=[declared], tls="letsencrypt")
        return edges_of([gateway])[0]

    first, again = converge(DEPLOY, edge_host(**metrics))
    changes = first.changes()
    assert again.changes() == [] and again.round_trips() == ["Together"]  # the deploy's snapshot only
    # mtail starts when installed: camgate's drop-in (loopback, the edge's log, its program) is there
    # before base's one apt run, which installs it with node exporter and the rest.
    for first_start_file in ("mtail.service drop-in", "mtail program (edge traffic)", "prometheus-node-exporter.service drop-in"):
        assert changes.index(first_start_file) < changes.index("Install the gateway's packages"), first_start_file
    assert "Install mtail" not in changes and "Install prometheus-node-exporter" not in changes
    host = first.host_after()
    dropin = host.content(paths.MTAIL_DROPIN)
    assert f"--address 127.0.0.1 --port {paths.MTAIL_PORT}" in dropin and paths.EDGE_ACCESS_LOG in dropin
    assert "camgate_edge_requests_total" in host.content(paths.MTAIL_PROGRAM)
    assert "location = /metrics/cache" in host.content(paths.NGINX_SITE) and "allow 198.51.100.7/32;" in host.content(paths.NGINX_SITE)
    assert '"health": null' in host.content(paths.METRICS_CONFIG)  # no cameras here: certificate and deploy only
    assert "OnUnitActiveSec=60" in host.content(paths.unit_path(paths.METRICS_TIMER))
    assert host.lookup(paths.METRICS_HTPASSWD).mode == 0o640 and "prometheus:" in host.content(paths.METRICS_HTPASSWD)

    off, settled = converge(DEPLOY, edge_host(), again.host_after())
    assert {"Stop node exporter", "Stop mtail", "Stop the metrics timer", f"Remove {paths.MTAIL_PROGRAM}"} <= set(off.changes())
    assert "/metrics" not in off.host_after().content(paths.NGINX_SITE)
    assert settled.changes() == []
