"""A caching edge in front of a gateway (docs/edges.md), on two testbed hosts of their own: the
edge checks viewers' signed URLs itself, serves every viewer of a camera from one cached copy, and
reaches the gateway only on its origin port with its own credential."""

from __future__ import annotations

import base64
import collections
import json
import subprocess
import time

import pytest
import testinfra

from camgate import paths
from camgate.secrets import resolve_secret
from camgate.signing import MULTIVARIANT, PLAYLIST, signed_path
from tests.integration.conftest import ROOT, Deployer, grand_total
from tests.players.hls import Client, parse_playlist, segment_url
from tests.players.viewers import run_viewers
from tests.testbed.edges import gateway_and_edge, read_ca, trust_gateway
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
    with gateway_and_edge(GATEWAY_DIR, EDGE_DIR, GATEWAY_INDEX, EDGE_INDEX, cameras=2) as states:
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
    edge_ca.write_text(read_ca(edge_state))
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


def plays(url: str, seconds: int = 4) -> int:
    """Frames ffmpeg (a real HLS client: playlists, segments, AES keys) decodes from `url`."""
    result = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", url, "-t", str(seconds), "-map", "0:v", "-f", "null", "-", "-progress", "pipe:1"],
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
    assert plays(url) >= 50  # 25 fps for 4 s, decoded (the encrypted camera's through its keys)


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
        assert viewer.fetch(url).status == 200  # the last playlist, stale while the gateway is away
    finally:
        gateway_host.run_expect([0], "systemctl start nginx")
    advanced = viewer.wait_for_sequence_advance(url, playlist.media_sequence, timeout=30)
    assert advanced > playlist.media_sequence


def test_a_redeploy_of_gateway_and_edge_changes_nothing(site):
    result = site["deployer"].run()
    total = grand_total(result.stdout + result.stderr)
    output = result.stdout + result.stderr
    assert site["edge_state"]["name"] in output and site["gateway_state"]["name"] in output  # both hosts deployed
    assert total["success"] == "-" and total["error"] == "-", f"a re-deploy changed something:\n{result.stdout}{result.stderr}"
