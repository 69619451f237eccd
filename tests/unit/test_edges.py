"""Caching edges (docs/edges.md) on the operator's side: the model, the manifest's choice of edge,
and what the gateway and the edge are told (nginx configs, firewall)."""

import hashlib

import pytest
from click.testing import CliRunner

from camgate import paths
from camgate.cli import main
from camgate.cli.inspect import edge_cells, edge_status_request
from camgate.edge import choose_edge, lifetimes
from camgate.edgehost.status import traffic as edge_traffic
from camgate.firewall import ruleset_for
from camgate.inventory import EDGE_DATA_KEY, edge, edges_of, gateway, load_inventory
from camgate.model import InventoryError, parse_edge_host, parse_gateway
from camgate.signing import link_token
from camgate.passwords import hash_password
from camgate.render import render_edge_keys, render_edge_secrets, render_edge_site, render_nginx_site

URL_SECRET = "u" * 32
CREDENTIALS = {"edge1": "e" * 32, "edge2": "f" * 32}


@pytest.fixture(autouse=True)
def secrets_in_env(monkeypatch):
    monkeypatch.setenv("CAMGATE_TEST_URL_SECRET", URL_SECRET)
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(f"CAMGATE_TEST_{name.upper()}", value)


def an_edge(name: str = "edge1", **fields) -> dict:
    return edge(f"{name}.example.com", address=fields.pop("address", "198.51.100.20"), secret_ref=f"env:CAMGATE_TEST_{name.upper()}",
                acme_email="ops@example.com", **fields)  # fmt: skip


def a_gateway(name: str, cameras: list[str], edges: list[dict], **fields) -> tuple[str, dict]:
    return gateway(f"{name}.example.com", acme_email="ops@example.com", url_secret_ref="env:CAMGATE_TEST_URL_SECRET",
                   edges=edges, cameras=[{"id": c, "url": f"rtsp://192.168.1.{20 + i}/s"} for i, c in enumerate(cameras)],
                   **fields)  # fmt: skip


def parsed_edges(gateways) -> dict:
    return {host: parse_edge_host(host, data[EDGE_DATA_KEY]) for host, data in edges_of(gateways)}


def test_an_edge_of_two_gateways_knows_which_gateway_has_each_camera():
    shared = an_edge()
    gateways = [a_gateway("gw1", ["front", "back"], [shared]), a_gateway("gw2", ["gate"], [shared, an_edge("edge2", address="198.51.100.21")])]
    edges = parsed_edges(gateways)
    assert set(edges) == {"edge1.example.com", "edge2.example.com"}
    edge1 = edges["edge1.example.com"]
    assert edge1.origin_of("front").host == "gw1.example.com" and edge1.origin_of("gate").host == "gw2.example.com"
    assert [o.host for o in edges["edge2.example.com"].origins] == ["gw2.example.com"]
    origin = edge1.origin_of("front")
    assert (origin.tls_name, origin.connect, origin.origin_port) == ("gw1.example.com", "gw1.example.com", 8443)


def test_an_origin_address_is_where_the_edge_connects_and_the_dns_name_what_it_checks():
    gw = a_gateway("gw1", ["front"], [an_edge()], domain="203.0.113.5", alt_domains=["gw1.example.com"], tls="selfsigned",
                   origin_address="10.8.0.1")  # fmt: skip
    origin = parse_gateway(gw[0], gw[1]["camgate"]).origin()
    assert (origin.tls_name, origin.connect) == ("gw1.example.com", "10.8.0.1")


def test_the_same_edge_declared_differently_by_two_gateways_is_refused():
    gateways = [a_gateway("gw1", ["front"], [an_edge()]), a_gateway("gw2", ["gate"], [an_edge(cache_max_size="5G")])]
    with pytest.raises(InventoryError, match="declared differently by two gateways"):
        edges_of(gateways)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"tls": "off"}, "field 'tls': an edge serves HTTPS only"),
        ({"address": "10.0.0.0/8"}, "field 'address'"),
        ({"cache_max_size": "lots"}, "field 'cache_max_size'"),
        ({"origin_ca": "/nonexistent/ca.pem"}, "field 'origin_ca'"),
    ],
)
def test_bad_edge_fields_name_the_edge_and_the_field(fields, problem):
    with pytest.raises(InventoryError, match=problem) as error:
        an_edge(**fields)
    assert "edge1.example.com" in str(error.value)


def test_a_gateway_with_edges_needs_https_and_a_dns_name_and_its_origin_port_free():
    with pytest.raises(InventoryError, match="tls='off' serves none"):
        a_gateway("gw1", ["front"], [an_edge()], tls="off")
    with pytest.raises(InventoryError, match="only IP addresses"):
        a_gateway("gw1", ["front"], [an_edge()], domain="203.0.113.5", tls="selfsigned")
    with pytest.raises(InventoryError, match="'origin_port': overlaps 'https_port'"):
        a_gateway("gw1", ["front"], [an_edge()], origin_port=443)
    a_gateway("gw1", ["front"], [], origin_port=443)  # no edges: the port is not listened on


def test_the_manifests_choice_of_edge_is_stable_and_spreads_over_the_edges():
    gw = a_gateway("gw1", ["front"], [an_edge(), an_edge("edge2", address="198.51.100.21")])
    edges = parse_gateway(gw[0], gw[1]["camgate"]).edges
    names = [f"user{n}" for n in range(200)]
    chosen = [choose_edge(edges, name).host for name in names]
    assert chosen == [choose_edge(edges, name).host for name in names]
    assert 60 <= chosen.count("edge1.example.com") <= 140
    # The njs manifest computes the same: md5 hex, first 8 digits, modulo the number of edges.
    assert chosen[0] == edges[int(hashlib.md5(b"user0").hexdigest()[:8], 16) % 2].host


def test_the_gateway_serves_its_edges_on_the_origin_port_with_their_credentials_only():
    host, data = a_gateway("gw1", ["front"], [an_edge(), an_edge("edge2", address="198.51.100.21")], hls_key_rotation=300)
    gw = parse_gateway(host, data["camgate"])
    site = render_nginx_site(gw, (1, 22, 1))
    assert f"include {paths.EDGE_KEYS_CONF};" in site
    assert "listen 8443 ssl;" in site and "allow 198.51.100.20;" in site and "allow 198.51.100.21;" in site
    assert 'if ($camgate_edge = "") {\n        return 403;' in site
    assert '"~\\.key$" 60;' in site  # a key never outlives its rotation
    keys = render_edge_keys(gw)
    assert f'"{CREDENTIALS["edge1"]}" "edge1.example.com";' in keys and f'"{CREDENTIALS["edge2"]}" "edge2.example.com";' in keys
    assert URL_SECRET not in site and CREDENTIALS["edge1"] not in site
    ruleset = ruleset_for(gw, 22, None)
    (origin,) = [limited for limited in ruleset.limited if limited.port == 8443]
    assert origin.v4 == ("198.51.100.20/31",)  # the two neighbours, merged as nft needs


def test_a_gateway_without_edges_has_no_origin_port():
    host, data = a_gateway("gw1", ["front"], [])
    gw = parse_gateway(host, data["camgate"])
    assert "8443" not in render_nginx_site(gw, (1, 22, 1)) and not ruleset_for(gw, 22, None).limited


def test_the_edge_checks_tokens_itself_and_caches_by_camera_and_file_never_by_token():
    edges = parsed_edges([a_gateway("gw1", ["front"], [an_edge()])])
    found = edges["edge1.example.com"]
    site = render_edge_site(found, (1, 22, 1))
    assert 'secure_link_md5 "$expires/$camera $camgate_url_secret";' in site
    assert 'secure_link_md5 "$expires/$camera/rec $camgate_url_secret";' in site
    assert 'proxy_cache_key "$camgate_origin/o/$camera/$file";' in site and "$token" not in site.split("proxy_cache_key")[1].split(";")[0]
    assert "proxy_cache_lock on;" in site and "proxy_cache_background_update on;" in site
    assert "http_503" not in site  # a camera that is down is not hidden behind a stale playlist
    assert f"proxy_ssl_trusted_certificate {paths.SYSTEM_CAS};" in site and "proxy_ssl_verify on;" in site
    secrets = render_edge_secrets(found)
    assert f'"front" "{URL_SECRET}";' in secrets and f'default "{CREDENTIALS["edge1"]}";' in secrets
    assert URL_SECRET not in site and CREDENTIALS["edge1"] not in site


def test_lifetimes_follow_the_key_rotation():
    host, data = a_gateway("gw1", ["front"], [an_edge()], hls_key_rotation=60)
    assert lifetimes(parse_gateway(host, data["camgate"])).key == 60


def edge_inventory(tmp_path, choice: str) -> str:
    secrets = tmp_path / "site.secrets.toml"
    secrets.write_text(f'url = "{URL_SECRET}"\nedge1 = "{"e" * 32}"\nedge2 = "{"f" * 32}"\nalice = "{hash_password("alice password 1")}"\n')
    secrets.chmod(0o600)
    inventory = tmp_path / "site.py"
    inventory.write_text(
        "from camgate.inventory import edge, edges_of, gateway\n"
        f"S = {str(secrets)!r}\n"
        "edge1 = edge('edge1.example.com', address='198.51.100.20', secret_ref='secret:edge1', acme_email='ops@example.com', secrets_file=S)\n"
        "edge2 = edge('edge2.example.com', address='198.51.100.21', secret_ref='secret:edge2', acme_email='ops@example.com', secrets_file=S)\n"
        "gateways = [gateway('gw1.example.com', acme_email='ops@example.com', url_secret_ref='secret:url', secrets_file=S,\n"
        f"                    edges=[edge1, edge2], edge_choice={choice!r},\n"
        "                    app_users=[{'name': 'alice', 'password_ref': 'secret:alice', 'cameras': ['front']}],\n"
        "                    cameras=[{'id': 'front', 'url': 'rtsp://192.168.1.20/s'}, {'id': 'back', 'url': 'rtsp://192.168.1.21/s'}])]\n"
        "edges = edges_of(gateways)\n"
    )
    return str(inventory)


def test_sign_and_urls_via_edge_name_the_edge_the_manifest_hands_out(tmp_path):
    inventory = edge_inventory(tmp_path, "camera")
    runner = CliRunner()
    signed = runner.invoke(main, ["sign", inventory, "back", "--via", "edge"], catch_exceptions=False)
    assert signed.exit_code == 0, signed.output
    url = signed.stdout.strip()
    expected = choose_edge(parsed_edges_of(inventory), "back").base_url
    assert url.startswith(expected + "/s/")
    token, expires, camera_id = url[len(expected) :].split("/")[2:5]
    assert token == link_token(URL_SECRET, camera_id, int(expires))  # the same signature the edge checks
    gateway_url = runner.invoke(main, ["sign", inventory, "back"], catch_exceptions=False).stdout.strip()
    assert gateway_url.startswith("https://gw1.example.com/s/")  # still the default

    listed = runner.invoke(main, ["urls", inventory, "--via", "edge"], catch_exceptions=False)
    assert listed.exit_code == 0 and listed.stdout.count("https://edge") == 2, listed.output


def test_per_user_edges_need_the_user_and_list_only_their_cameras(tmp_path):
    inventory = edge_inventory(tmp_path, "user")
    runner = CliRunner()
    refused = runner.invoke(main, ["sign", inventory, "front", "--via", "edge"])
    assert refused.exit_code == 2 and "--user" in refused.output and "alice" in refused.output
    listed = runner.invoke(main, ["urls", inventory, "--via", "edge", "--user", "alice"], catch_exceptions=False)
    edge_url = choose_edge(parsed_edges_of(inventory), "alice").base_url
    assert listed.exit_code == 0 and f"{edge_url}/s/" in listed.stdout and " back " not in listed.stdout, listed.output


def parsed_edges_of(inventory: str) -> list:
    ((gateway, _data),) = load_inventory(inventory)
    return list(gateway.edges)


MTAIL_TEXT = """# TYPE camgate_edge_requests_total counter
camgate_edge_requests_total{cache="HIT",code="200"} 97
camgate_edge_requests_total{cache="MISS",code="200"} 3
camgate_edge_requests_total{cache="BYPASS",code="200"} 5
camgate_edge_requests_total{cache="none",code="403"} 4
camgate_edge_origin_errors_total{gateway="gw1.example.com"} 2
camgate_edge_origin_responses_total{code="502",gateway="gw1.example.com"} 2
"""


def edge_status_report(**changes) -> dict:
    report = {"nginx": "active", "mtail": "active", "certificate_expiry": 1_000_000 + 45 * 86400,
              "traffic": edge_traffic(MTAIL_TEXT), "gateways": {"gw1.example.com": {"camera": "front", "status": "200"}}}  # fmt: skip
    return {**report, **changes}


def test_edge_traffic_counts_viewers_not_status_checks_and_sums_refusals_and_errors():
    assert edge_traffic(MTAIL_TEXT) == {
        "requests": 100, "cached": 97, "refused": 4, "origin_errors": {"gw1.example.com": 2},
        "origin_responses": {"gw1.example.com": {"502": 2}},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "status", "reason"),
    [
        ({}, "up", ""),
        ({"gateways": {"gw1.example.com": {"camera": "front", "status": "503"}}}, "up", "front is down at gw1.example.com"),
        ({"gateways": {"gw1.example.com": {"camera": "front", "status": "502"}}}, "DOWN", "gw1.example.com: front answers 502 through the edge"),
        ({"nginx": "failed"}, "DOWN", "nginx is failed"),
        ({"mtail": "failed", "traffic": None}, "up", "mtail is failed: no traffic figures"),
    ],
)
def test_an_edge_is_up_only_while_a_camera_of_each_gateway_plays_through_it(changes, status, reason):
    cells = edge_cells(edge_status_report(**changes), now=1_000_000)
    assert (cells[0], cells[-1]) == (status, reason)
    if not changes:
        assert cells[1:6] == ("97.0%", "100", "4", "2", "45 days left")


def test_the_edges_status_check_is_signed_as_the_gateway_signs():
    (found,) = parsed_edges([a_gateway("gw1", ["front", "back"], [an_edge()])]).values()
    request = edge_status_request(found, now=1_000_000)
    (check,) = request["checks"]
    assert check["gateway"] == "gw1.example.com" and check["camera"] == "front"
    token, expires, camera_id, file = check["path"].split("/")[2:]
    assert token == link_token(URL_SECRET, camera_id, int(expires)) and file == "index.m3u8"
    assert request["traffic_url"] is None  # no metrics_from: no mtail
