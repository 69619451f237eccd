"""A caching edge in front of a gateway (docs/edges.md), on two testbed hosts of their own: the
edge checks viewers' signed URLs itself, serves every viewer of a camera from one cached copy, and
reaches the gateway only on its origin port with its own credential. The edge gets its certificate
from an ACME server (pebble) as a gateway does, and a real Prometheus scrapes its metrics."""

from __future__ import annotations

import base64
import collections
import json
import subprocess
import sys
import time

import pytest
import testinfra

from camgate import paths
from camgate.secrets import resolve_secret
from camgate.signing import MULTIVARIANT, PLAYLIST, signed_path
from tests.integration.conftest import INVENTORY, ROOT, Deployer, grand_total, resolving
from tests.integration.prometheus import running_prometheus, scrape_configs
from tests.players.hls import Client, parse_playlist, segment_url
from tests.players.viewers import run_viewers
from tests.testbed import pebble
from tests.testbed.edges import gateway_and_edge, trust_gateway
from tests.testbed.proc import wait_until
from tests.testbed.inventory import ORIGIN_CA_FILE

GATEWAY_DIR = ROOT / ".testbed-test-edge-gw"
EDGE_DIR = ROOT / ".testbed-test-edge"
GATEWAY_INDEX, EDGE_INDEX = 10, 11
# cam1: fMP4, 1 s segments; cam2: AES-128 MPEG-TS, 2 s segments (tests/testbed/inventory.py).
PLAIN, ENCRYPTED = "cam1", "cam2"
VIEWERS = 200
LOAD_SECONDS = 30


@pytest.fixture(scope="module")
def beds():
    with gateway_and_edge(GATEWAY_DIR, EDGE_DIR, GATEWAY_INDEX, EDGE_INDEX, cameras=2, edge_acme=True) as states:
        yield states


@pytest.fixture(scope="module")
def site(beds):
    """The gateway deployed alone first (its CA exists from then on, and the edge is told to trust
    it, as an operator saves `camgate tls-ca`), then gateway and edge in one run."""
    gateway_state, edge_state = beds
    deployer = Deployer(GATEWAY_DIR)
    deployer.env.update(CAMGATE_TESTBED_WEBRTC="off", CAMGATE_TESTBED_METRICS_FROM="off")
    deployer.run()
    trust_gateway(gateway_state, EDGE_DIR)
    deployer.env["CAMGATE_TESTBED_EDGE_DIR"] = str(EDGE_DIR)
    first = deployer.run()
    edge_ca = EDGE_DIR / "edge-ca.pem"
    edge_ca.write_text(pebble.fetch_root(edge_state["acme"]))  # the edge's certificate is Let's Encrypt's (pebble's)
    gateway = deployer.gateway()
    return {
        "deployer": deployer,
        "first": first,
        "gateway": gateway,
        "edge": gateway.edges[0],
        "gateway_state": gateway_state,
        "edge_state": edge_state,
        "secret": resolve_secret("secret:url-signing", str(GATEWAY_DIR / "secrets.toml")),
        "viewer": Client(connect_to=edge_state["target_address"], cafile=str(edge_ca), timeout=10),
    }


@pytest.fixture(scope="module")
def gateway_host(site):
    state = site["gateway_state"]
    return testinfra.get_host(f"ssh://{state['ssh_alias']}", ssh_config=state["ssh_config"])


@pytest.fixture(scope="module")
def edge_host(site):
    state = site["edge_state"]
    return testinfra.get_host(f"ssh://{state['ssh_alias']}", ssh_config=state["ssh_config"])


def edge_url(site, camera_id: str, file: str = PLAYLIST, ttl: int = 600, kind: str = "") -> str:
    """A viewer's URL at the edge, signed with the gateway's secret ('/rec' signs recordings)."""
    path = signed_path(site["secret"], camera_id + kind, int(time.time()) + ttl, file)
    if kind:  # /r/<token>/<expires>/<camera>/<file>: the token covers "<camera>/rec"
        path = path.replace("/s/", "/r/", 1).replace(f"/{camera_id}{kind}/", f"/{camera_id}/", 1)
    return site["edge"].base_url + path


def origin_log(gateway_host) -> list[str]:
    return gateway_host.file(paths.ORIGIN_ACCESS_LOG).content_string.splitlines() if gateway_host.file(paths.ORIGIN_ACCESS_LOG).exists else []


def plays(url: str, state: dict, seconds: int = 4) -> int:
    """Frames ffmpeg (a real HLS client: playlists, segments, AES keys) decodes from `url`, reaching
    the testbed host of `state` by its DNS name."""
    with resolving(state) as prefix:
        result = subprocess.run(
            [*prefix, "ffmpeg", "-v", "error", "-nostdin", "-i", url, "-t", str(seconds), "-map", "0:v", "-f", "null", "-", "-progress", "pipe:1"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    frames = [int(line.split("=", 1)[1]) for line in result.stdout.splitlines() if line.startswith("frame=")]
    return frames[-1] if result.returncode == 0 and frames else 0


@pytest.mark.parametrize("camera_id", [PLAIN, ENCRYPTED])
def test_a_signed_stream_plays_through_the_edge(site, camera_id):
    viewer = site["viewer"]
    url = edge_url(site, camera_id, MULTIVARIANT)
    resp, playlist = viewer.wait_for_playlist(url, timeout=90)
    assert resp.headers["content-type"] == "application/vnd.apple.mpegurl"
    media = viewer.fetch(segment_url(url, playlist.variants[0][1]))
    assert media.status == 200 and parse_playlist(media.body.decode()).segments
    if camera_id == ENCRYPTED:
        assert b"#EXT-X-KEY:METHOD=AES-128" in media.body
    assert plays(url, site["edge_state"]) >= 50  # 25 fps for 4 s, decoded (the encrypted camera's through its keys)


def test_the_edge_has_a_certificate_from_the_acme_server_for_its_name(site):
    edge = site["edge"]
    assert edge.tls == "letsencrypt" and not edge.domain[0].isdigit()
    cert = site["viewer"].peer_certificate(edge.base_url)  # raises unless it verifies against pebble's root
    assert ("DNS", edge.domain) in cert["subjectAltName"]
    plain = site["viewer"].fetch(f"http://{edge.domain}/s/x")
    assert plain.status == 301 and plain.headers["location"].startswith(edge.base_url)


def test_the_manifest_hands_out_the_edge_and_keeps_the_api_on_the_gateway(site):
    state = site["gateway_state"]
    gateway = site["gateway"]
    client = Client(connect_to=state["target_address"], cafile=str(EDGE_DIR / ORIGIN_CA_FILE))
    password = state["app_users"]["alice"]["password"]
    auth = {"Authorization": "Basic " + base64.b64encode(f"alice:{password}".encode()).decode()}
    resp = client.fetch(gateway.base_url + "/api/cameras", headers=auth)
    assert resp.status == 200
    cameras = json.loads(resp.body)["cameras"]
    assert cameras and all(c["url"].startswith(site["edge"].base_url + "/s/") for c in cameras)
    assert site["viewer"].wait_for_playlist(cameras[0]["url"], timeout=60)[0].status == 200


def test_bad_urls_get_403_at_the_edge_without_reaching_the_gateway(site, gateway_host):
    viewer = site["viewer"]
    good = edge_url(site, PLAIN)
    assert viewer.wait_for_playlist(good, timeout=60)
    token = good.split("/")[4]
    tampered = good.replace(token, ("A" if token[0] != "A" else "B") + token[1:])
    expired = edge_url(site, PLAIN, ttl=-10)
    other_camera = good.replace(f"/{PLAIN}/", f"/{ENCRYPTED}/")
    unsigned = f"{site['edge'].base_url}/s/{PLAIN}/{PLAYLIST}"
    recordings_with_live_token = good.replace("/s/", "/r/", 1).replace(PLAYLIST, "20260101T000000Z.mp4")
    before = len(origin_log(gateway_host))
    for url in (tampered, expired, other_camera, recordings_with_live_token):
        assert viewer.fetch(url).status == 403, url
    assert viewer.fetch(unsigned).status == 404
    assert viewer.fetch(f"{site['edge'].base_url}/o/{PLAIN}/{PLAYLIST}").status == 404  # no origin paths at the edge
    assert len(origin_log(gateway_host)) == before


def test_the_gateway_refuses_edge_requests_without_the_edges_credential(site, edge_host):
    gateway = site["gateway"]
    origin = f"https://{gateway.origin_address}:{gateway.origin_port}/o/{PLAIN}/{PLAYLIST}"
    name = next(n for n in gateway.certificate_names if not n[0].isdigit())
    curl = f"curl -s -o /dev/null -w '%{{http_code}}' --cacert {paths.EDGE_ORIGIN_CA} --resolve {name}:{gateway.origin_port}:{gateway.origin_address} https://{name}:{gateway.origin_port}/o/{PLAIN}/{PLAYLIST}"
    assert edge_host.check_output(curl) == "403"  # from the edge's address, without its credential
    assert edge_host.check_output(curl + " -H 'X-Camgate-Edge: not-the-credential-of-any-edge'") == "403"
    credential = resolve_secret("secret:edge-credential", str(EDGE_DIR / "secrets.toml"))
    assert edge_host.check_output(curl + f" -H 'X-Camgate-Edge: {credential}'") == "200"
    # From anywhere else (this machine) the origin port is closed by the gateway's firewall.
    probe = subprocess.run(["curl", "-sk", "--max-time", "3", "-o", "/dev/null", "-w", "%{http_code}", origin], capture_output=True, text=True)
    assert probe.stdout in ("000", "") and probe.returncode != 0


def test_two_hundred_viewers_cost_the_gateway_about_one_request_per_file(site, gateway_host):
    """200 viewers, each with its own token, read one camera through the edge for 30 s (bounded)."""
    viewer = site["viewer"]
    assert viewer.wait_for_playlist(edge_url(site, PLAIN), timeout=60)
    before = len(origin_log(gateway_host))
    tally = run_viewers(viewer, [edge_url(site, PLAIN) for _ in range(VIEWERS)], LOAD_SECONDS)
    lines = origin_log(gateway_host)[before:]
    per_file = collections.Counter(line.rsplit('"', 2)[-2].rsplit("/", 1)[-1] for line in lines if f"/o/{PLAIN}/" in line)
    segments = {name: count for name, count in per_file.items() if name.endswith(".m4s")}
    playlists = per_file.get(PLAYLIST, 0)
    served = sum(tally.served.values())
    print(f"viewer requests {served}, errors {dict(tally.errors)}; gateway requests {len(lines)} "
          f"({len(lines) / served:.4f} per viewer request): playlist {playlists} in {LOAD_SECONDS} s, "
          f"{len(segments)} segment files, at most {max(segments.values(), default=0)} request(s) each")  # fmt: skip
    assert not tally.errors and tally.served[200] >= VIEWERS * LOAD_SECONDS  # every viewer kept reading
    assert segments and max(segments.values()) <= 2, segments  # one copy per segment file (two at a miss racing an expiry)
    assert playlists <= 2 * (LOAD_SECONDS + 5), playlists  # about one per second (nginx's smallest cache time)


def test_the_edge_serves_cached_segments_through_a_gateway_outage_and_recovers(site, gateway_host):
    viewer = site["viewer"]
    url = edge_url(site, PLAIN)
    _resp, playlist = viewer.wait_for_playlist(url, timeout=60)
    segment = segment_url(url, playlist.segments[-1])
    assert viewer.fetch(segment).status == 200  # cached now
    gateway_host.run_expect([0], "systemctl stop nginx")
    try:
        cached = viewer.fetch(segment)
        assert cached.status == 200 and cached.headers.get("x-cache") in ("HIT", "STALE"), cached.headers
        # The last playlist, stale once its second is over: each such request has the edge try the gateway again.
        assert wait_until(lambda: served_stale(viewer, url), timeout=15, interval=0.5)
        # `camgate status` is not fooled by the stale copies: the edge is down for lack of its gateway.
        code, edge_report = edge_status(site)
        assert code == 1 and edge_report["nginx"] == "active", edge_report
        assert [check["status"] for check in edge_report["gateways"].values()] in (["502"], ["504"]), edge_report
    finally:
        gateway_host.run_expect([0], "systemctl start nginx")
    advanced = viewer.wait_for_sequence_advance(url, playlist.media_sequence, timeout=30)
    assert advanced > playlist.media_sequence
    assert wait_until(lambda: edge_status(site)[0] == 0, timeout=60, interval=2), edge_status(site)


def edge_status(site) -> tuple[int, dict]:
    """`camgate status --json`'s exit status and its report of the edge."""
    result = subprocess.run([sys.executable, "-m", "camgate.cli", "status", INVENTORY, "--json"], cwd=ROOT, env=site["deployer"].env,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    return result.returncode, json.loads(result.stdout)["edges"][site["edge"].host] if result.stdout.strip() else {}


def served_stale(viewer: Client, url: str) -> bool:
    resp = viewer.fetch(url)
    return resp.status == 200 and resp.headers.get("x-cache") == "STALE"


def test_prometheus_scrapes_the_edges_cache_hits_and_the_outages_origin_errors(site, tmp_path):
    """After the load and the outage above: the edge's two scrape jobs (from `camgate
    prometheus-config`) are up, its traffic shows the viewers served from the cache, the refused
    URLs, and the gateway's outage as origin errors; its certificate's expiry is reported."""
    edge_state, edge = site["edge_state"], site["edge"]
    scrape = scrape_configs(INVENTORY, site["deployer"].env, edge_state["metrics"]["password"], EDGE_DIR / "edge-ca.pem", tmp_path)
    assert "camgate-edge-cache" in scrape and 'job: "camgate"\n' not in scrape  # the gateway serves no metrics here
    with running_prometheus(tmp_path, scrape) as prometheus:
        jobs = {"camgate-edge": 1.0, "camgate-edge-cache": 1.0}
        assert wait_until(lambda: prometheus.values(f'up{{edge="{edge.host}"}}', "job") == jobs, timeout=60, interval=1), prometheus.query("up")
        hits = prometheus.scalar('sum(camgate_edge_requests_total{cache=~"HIT|STALE|UPDATING"})')
        cached = prometheus.scalar('sum(camgate_edge_requests_total{cache!="none"})')
        refused = prometheus.scalar('sum(camgate_edge_requests_total{cache="none",code="403"})')
        errors = prometheus.values("camgate_edge_origin_errors_total", "gateway")
        expiry = prometheus.scalar(f'camgate_tls_certificate_expiry_timestamp_seconds{{edge="{edge.host}"}}')
        print(f"edge metrics: {cached:.0f} requests through the cache, hit ratio {hits / cached:.4f}; "
              f"{refused:.0f} refused; origin errors {errors}")  # fmt: skip
    assert cached >= VIEWERS * LOAD_SECONDS and hits / cached > 0.95  # the load test's viewers, nearly all from the cache
    assert refused >= 4  # the tampered, expired, other-camera and wrong-kind URLs
    origin_name = next(n for n in site["gateway"].certificate_names if not n[0].isdigit())
    assert errors.get(origin_name, 0) >= 1  # the outage: refreshes that found the gateway gone
    assert expiry and expiry > time.time() + 86400  # pebble's certificate, read on the edge


def test_a_redeploy_of_gateway_and_edge_changes_nothing(site):
    result = site["deployer"].run()
    total = grand_total(result.stdout + result.stderr)
    output = result.stdout + result.stderr
    assert site["edge_state"]["name"] in output and site["gateway_state"]["name"] in output  # both hosts deployed
    assert total["success"] == "-" and total["error"] == "-", f"a re-deploy changed something:\n{result.stdout}{result.stderr}"
