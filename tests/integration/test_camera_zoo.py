"""Every common camera plays on every phone: a second gateway serves the camera zoo (H.264 with AAC
and G.711, a 720p camera with 4 s between keyframes, H.265 with AAC and G.711, MJPEG, digest auth,
main + sub profiles, a camera whose timestamps jump back) and real players prove what plays:
hls.js in Chromium for H.264, the hvc1 init section and ffmpeg for H.265 (Linux Chromium has no
HEVC decoder), and health tells the truth about the MJPEG camera until it is transcoded."""

from __future__ import annotations

import base64
import json
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import testinfra

from camgate.gateway.health import VARIANT_URIS
from camgate.gateway.media import read_init
from camgate.gateway.retention import start_of
from camgate.signing import link_token, parse_link_secret_conf, signed_path
from tests.conftest import phase
from tests.integration.conftest import INVENTORY, ROOT, Deployer, ffprobe_url, grand_total
from tests.players.browser import browser_unavailable_reason, play_hls, play_webrtc
from tests.players.hls import Client, parse_playlist, playlist_problems, renumbered, segment_url
from tests.testbed import Testbed
from tests.testbed.proc import wait_until
from tests.testbed.zoo import ZOO, zoo_camera

ZOO_DIR = ROOT / ".testbed-zoo"
ZOO_INDEX = 9
H264 = [c.id for c in ZOO if c.expect.video_codec == "h264"]
HEVC = [c.id for c in ZOO if c.expect.video_codec == "hevc"]
MJPEG = "zoo-mjpeg"
JUMPING = "zoo-h264-jumping"
WITH_SUB = "zoo-h264-aac"
HEVC_RECORDING = "zoo-h265-aac"  # records, as WITH_SUB does (tests/testbed/inventory.py ZOO_RECORDING)
RECORDINGS = "/var/lib/camgate/recordings"
LONG_GOP = "zoo-h264-720p-gop4"
# The jumping camera goes back 5 s every 15 s of stream: the launcher restarts ffmpeg on the run of
# timestamp rewrites, so its playlist is never invalid for longer than this (measured, and reported).
INVALID_AT_MOST = 12.0
browser = pytest.mark.skipif(browser_unavailable_reason() is not None, reason=str(browser_unavailable_reason()))


@pytest.fixture(scope="module")
def zoo_bed():
    bed = Testbed(state_dir=ZOO_DIR, index=ZOO_INDEX, cameras=1, auth_cameras=(), zoo=True)
    try:
        with phase("zoo testbed up (8 cameras, 3 sub profiles)"):
            bed.up()
        yield bed
    finally:
        bed.down()


@pytest.fixture(scope="module")
def zoo(zoo_bed) -> dict:
    """The zoo gateway deployed (plain HTTP: this file is about cameras and players, test_tls about TLS)."""
    deployer = Deployer(ZOO_DIR)
    deployer.env["CAMGATE_TESTBED_TLS"] = "off"
    with phase("first deploy of the zoo gateway"):
        deployer.run()
    state = json.loads((ZOO_DIR / "state.json").read_text())
    host = testinfra.get_host(f"ssh://{state['ssh_alias']}", ssh_config=state["ssh_config"])
    secret = parse_link_secret_conf(host.file("/etc/nginx/camgate/link-secret.conf").content_string)
    return {"deployer": deployer, "state": state, "host": host, "secret": secret, "base": f"http://{state['target_address']}"}


def url(zoo: dict, camera_id: str, file: str = "index.m3u8") -> str:
    return zoo["base"] + signed_path(zoo["secret"], camera_id, int(time.time()) + 900, file)


def health(zoo: dict) -> dict:
    return json.loads(zoo["host"].check_output("python3 /usr/local/lib/camgate/camgate-health /etc/camgate/health.json"))["cameras"]


def wait_for_status(zoo: dict, camera_id: str, status: str, timeout: float = 90) -> dict:
    found: dict = {}

    def reached() -> bool:
        found.update(health(zoo)[camera_id])
        return found["status"] == status

    assert wait_until(reached, timeout=timeout, interval=2), f"{camera_id}: {found}"
    return found


def multivariant(zoo: dict, camera_id: str) -> tuple[str, list]:
    """The camera's multivariant playlist once it lists the main stream. nginx serves it from the
    health timer's last report, which right after a deploy can predate the main stream's first
    segments and list only the sub stream (rightly: that one plays)."""
    found: dict = {}

    def main_listed() -> bool:
        resp, playlist = Client().wait_for_playlist(url(zoo, camera_id), timeout=90)
        found.update(text=resp.body.decode(), variants=playlist.variants)
        return any(uri == VARIANT_URIS["main"] for _, uri in playlist.variants)

    assert wait_until(main_listed, timeout=90, interval=2), f"{camera_id}: main stream never listed:\n{found['text']}"
    return found["text"], found["variants"]


@pytest.mark.parametrize("camera_id", [c.id for c in ZOO if c.id != MJPEG])
def test_every_h264_and_h265_camera_is_up_with_a_valid_multivariant_playlist(zoo, camera_id):
    wait_for_status(zoo, camera_id, "up")
    text, variants = multivariant(zoo, camera_id)
    assert playlist_problems(text) == [], text
    expect = zoo_camera(camera_id).expect
    attributes, uri = variants[0]
    assert uri == "stream.m3u8" and attributes["RESOLUTION"] == f"{expect.width}x{expect.height}"
    assert attributes["CODECS"].split(",")[0].startswith("avc1." if expect.video_codec == "h264" else "hvc1.")
    # G.711 and AAC both reach the phone as AAC; a camera without audio declares none.
    assert attributes["CODECS"].split(",")[1:] == (["mp4a.40.2"] if expect.audio_codec else [])
    # A camera that has just started lists fewer than 3 target durations: valid once it has them.
    media_url = segment_url(url(zoo, camera_id), uri)
    found: list = []
    complete = wait_until(lambda: not found.append(Client().fetch(media_url).body.decode()) and playlist_problems(found[-1]) == [],
                          timeout=60, interval=1)  # fmt: skip
    assert complete, f"{playlist_problems(found[-1])}\n{found[-1]}"


@pytest.mark.parametrize("camera_id", HEVC)
def test_hevc_is_tagged_hvc1_and_a_second_client_decodes_it(zoo, camera_id):
    wait_for_status(zoo, camera_id, "up")
    client = Client()
    playlist = parse_playlist(client.fetch(url(zoo, camera_id, "stream.m3u8")).body.decode())
    init = client.fetch(segment_url(url(zoo, camera_id, "stream.m3u8"), playlist.map_uri)).body
    assert b"hvc1" in init and b"hvcC" in init and b"hev1" not in init  # Apple's sample entry
    streams = ffprobe_url(url(zoo, camera_id), zoo["state"], "stream=codec_type,codec_name,width,height").get("streams", [])
    video = [s for s in streams if s.get("codec_type") == "video"]
    assert video and (video[0]["codec_name"], video[0]["width"], video[0]["height"]) == ("hevc", 640, 360), streams


# Seconds each H.264 camera plays: 10, the camera with 4 s between keyframes 20, the jumping one 30:
# at every jump (every 15 s) its ffmpeg restarts, and the player waits about 5 s for new segments.
PLAY_SECONDS = {LONG_GOP: 20, JUMPING: 30}
JUMPING_ADVANCES_AT_LEAST = 0.4  # of the wall time: two such waits in 30 s leave about 0.6


@pytest.fixture(scope="module")
def h264_plays(zoo) -> dict:
    """hls.js plays every H.264 camera's main variant at once, each in a browser of its own, as phones
    would: each camera's PlayResult by id. One after the other they took about 4 minutes on 2 cores.
    (The level is forced: with several players on 2 cores hls.js's ABR can pick the sub stream,
    which test_the_sub_stream_is_the_second_variant_and_plays_when_forced plays.)"""
    for camera_id in H264:
        wait_for_status(zoo, camera_id, "up")

    def play(camera_id: str):
        return play_hls(url(zoo, camera_id), seconds=PLAY_SECONDS.get(camera_id, 10), level=0, startup_timeout=60)

    with ThreadPoolExecutor(max_workers=len(H264)) as pool:
        return dict(zip(H264, pool.map(play, H264)))


@browser
@pytest.mark.parametrize("camera_id", H264)
def test_hls_js_plays_every_h264_camera_through_its_signed_url(h264_plays, camera_id):
    expect = zoo_camera(camera_id).expect
    result = h264_plays[camera_id]
    assert not result.fatal_errors, result.summary()  # a renumbered segment after a restart would be one
    assert (result.video_width, result.video_height) == (expect.width, expect.height), result.summary()
    if camera_id == JUMPING:
        assert result.advanced_with_wall_time(JUMPING_ADVANCES_AT_LEAST), result.summary()
    else:
        assert result.ok and result.advanced_with_wall_time(0.6), result.summary()
    print(f"{camera_id}: first frame {result.first_frame_s:.1f} s, latency {result.latency_s} s, {result.summary()}")


@browser
def test_the_sub_stream_is_the_second_variant_and_plays_when_forced(zoo):
    wait_for_status(zoo, WITH_SUB, "up")
    assert wait_until(lambda: health(zoo)[WITH_SUB].get("sub", {}).get("up"), timeout=60, interval=2)
    _, variants = multivariant(zoo, WITH_SUB)
    assert [uri for _, uri in variants] == ["stream.m3u8", "sub/stream.m3u8"]
    main, sub = (attributes for attributes, _ in variants)
    assert sub["RESOLUTION"] == "384x216" and int(sub["BANDWIDTH"]) < int(main["BANDWIDTH"])
    assert int(sub["AVERAGE-BANDWIDTH"]) <= 192_000 * 2  # the cellular-sized variant (Apple 9.21 asks <= 192k)
    result = play_hls(url(zoo, WITH_SUB), seconds=10, level=1, startup_timeout=40)
    assert result.ok and (result.video_width, result.video_height) == (384, 216), result.summary()


def watch_webrtc(zoo: dict, camera_id: str, **options):
    """alice (who sees every zoo camera) watches over WebRTC, as the app does from her manifest."""
    password = zoo["state"]["app_users"]["alice"]["password"]
    manifest = json.loads(Client().fetch(f"{zoo['base']}/api/cameras", headers={
        "Authorization": "Basic " + base64.b64encode(f"alice:{password}".encode()).decode()}).body)  # fmt: skip
    camera = next(c for c in manifest["cameras"] if c["id"] == camera_id)
    return play_webrtc(camera["webrtc"], "alice", password, **options)


# What reaches the browser over WebRTC: G.711 as the camera sent it, AAC as Opus, no audio as none.
WEBRTC_AUDIO = {"aac": "audio/opus", "pcm_alaw": "audio/PCMA", "pcm_mulaw": "audio/PCMU", None: None}


@browser
@pytest.mark.parametrize("camera_id", ["zoo-h264-pcma", "zoo-h264-pcmu", LONG_GOP])
def test_h264_cameras_play_over_webrtc_with_their_own_g711(zoo, camera_id):
    """G.711 both ways, and the camera with 4 s between keyframes (its first picture comes with its
    next keyframe: camgate-webrtc keeps none for joiners yet). AAC as Opus and a camera without audio: tests/integration/test_webrtc.py."""
    wait_for_status(zoo, camera_id, "up")
    expect = zoo_camera(camera_id).expect
    result = watch_webrtc(zoo, camera_id, seconds=5, startup_timeout=30)
    assert result.ok, result.summary()
    assert (result.video_width, result.video_height) == (expect.width, expect.height), result.summary()
    wanted = WEBRTC_AUDIO[expect.audio_codec]
    assert (result.audio or {}).get("codec") == wanted, result.summary()
    if wanted:
        assert result.audio["packets"] > 0 and result.audio["samples"] > 0, result.summary()
    print(f"{camera_id}: WebRTC first frame {result.first_frame_s} s (keyframes every {expect.keyframe_interval} s)")


def test_the_camera_sees_two_connections_with_a_sub_stream_and_one_without(zoo):
    single = "zoo-h264-pcmu"  # no sub profile, and steady (the jumping camera reconnects to resync)
    by_id = {c["id"]: c for c in zoo["state"]["zoo"]}
    ports = {cam: by_id[cam]["url"].split(":")[2].split("/")[0] for cam in (WITH_SUB, single)}
    counted: dict[str, int] = {}

    def counts_are_right() -> bool:
        # `ss -Htn state established`: "Recv-Q Send-Q Local:Port Peer:Port" per TCP connection
        lines = zoo["host"].check_output("ss -Htn state established").splitlines()
        peers = [line.split()[3] for line in lines if len(line.split()) >= 4]
        counted.update({cam: sum(peer.endswith(f":{port}") for peer in peers) for cam, port in ports.items()})
        return counted == {WITH_SUB: 2, single: 1}

    assert wait_until(counts_are_right, timeout=20, interval=1), counted


def test_g711_is_transcoded_without_encoder_warnings(zoo):
    for camera_id in ("zoo-h264-pcma", "zoo-h264-pcmu", "zoo-h265-pcma"):
        wait_for_status(zoo, camera_id, "up")
        log = zoo["host"].check_output(f"journalctl -u camgate-camera-{camera_id} -o cat --no-pager")
        assert "Too many bits" not in log, log[-2000:]


def test_the_mjpeg_camera_is_unplayable_in_status_and_verify_until_it_is_transcoded(zoo):
    found = wait_for_status(zoo, MJPEG, "unplayable")
    assert "players cannot decode" in found["reason"] and "H.264 or H.265" in found["reason"]
    assert Client().fetch(url(zoo, MJPEG)).status == 503  # no playlist a player would choke on
    verify = subprocess.run(
        [sys.executable, "-m", "camgate.cli", "verify", INVENTORY], cwd=ROOT, env=zoo["deployer"].env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert verify.returncode == 1
    failed = [line for line in verify.stdout.splitlines() if "FAIL" in line]
    assert any(f"camera {MJPEG}: live and playable" in line for line in failed), verify.stdout
    with phase("redeploy the zoo with video='transcode' for MJPEG"):
        zoo["deployer"].run(zoo_transcode=MJPEG)
    wait_for_status(zoo, MJPEG, "up")
    _, variants = multivariant(zoo, MJPEG)
    assert variants[0][0]["CODECS"].startswith("avc1.")
    if browser_unavailable_reason() is None:
        result = play_hls(url(zoo, MJPEG), seconds=8, startup_timeout=40)
        assert result.ok and (result.video_width, result.video_height) == (640, 360), result.summary()
        # WebRTC shares the one H.264 encoder (and carries no audio: the MJPEG camera has none).
        live = watch_webrtc(zoo, MJPEG, seconds=4, startup_timeout=30)
        assert live.ok and live.video["codec"] == "video/H264", live.summary()


def test_the_jumping_cameras_playlist_is_valid_again_within_a_bounded_time(zoo):
    """Sampled every second for 50 s (three jumps): the longest stretch the playlist is invalid, and
    no segment ever changes its media sequence number (ffmpeg restarts at each jump)."""
    wait_for_status(zoo, JUMPING, "up")
    client = Client()
    invalid_since, longest, samples, changed, previous = None, 0.0, [], [], None
    deadline = time.monotonic() + 50
    while time.monotonic() < deadline:
        text = client.fetch(url(zoo, JUMPING, "stream.m3u8")).body.decode()
        problems = playlist_problems(text)
        playlist = parse_playlist(text)
        changed += renumbered(previous, playlist) if previous else []
        previous = playlist
        durations = [s.duration for s in playlist.segments]
        collapsed = bool(durations) and statistics.median(durations) < 0.25
        now = time.monotonic()
        bad = bool(problems) or collapsed
        samples.append(bad)
        if bad and invalid_since is None:
            invalid_since = now
        if not bad and invalid_since is not None:
            longest, invalid_since = max(longest, now - invalid_since), None
        time.sleep(1)
    if invalid_since is not None:
        longest = max(longest, time.monotonic() - invalid_since)
    print(f"{JUMPING}: invalid in {sum(samples)} of {len(samples)} samples, longest stretch {longest:.1f} s")
    assert longest <= INVALID_AT_MOST, longest
    assert changed == []  # hls.js stops with "media sequence mismatch" on any
    log = zoo["host"].check_output(f"journalctl -u camgate-camera-{JUMPING} -o cat --no-pager")
    assert "timestamps jumped back" in log  # the launcher restarted ffmpeg in sync


def test_probe_measures_the_long_keyframe_interval_and_the_latency_it_costs(zoo):
    result = subprocess.run(
        [sys.executable, "-m", "camgate.cli", "probe", INVENTORY, LONG_GOP, "--no-save"], cwd=ROOT,
        env=zoo["deployer"].env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every 4 s" in result.stdout and "expected live latency in a standard player: about 13 s" in result.stdout


def finished_recordings(zoo: dict, camera_id: str, at_least: int, timeout: float = 120) -> list[tuple[int, int]]:
    """(start, end) of a camera's finished recording files, oldest first, once there are `at_least`
    (the newest file is still being written and not counted)."""
    found: list[tuple[int, int]] = []

    def enough() -> bool:
        out = zoo["host"].check_output(f"find {RECORDINGS}/{camera_id} -maxdepth 1 -name '*Z.mp4' -printf '%f %T@\\n' | sort")
        rows = [line.split() for line in out.splitlines()][:-1]
        found[:] = [(int(start_of(name)), int(float(mtime))) for name, mtime in rows]
        return len(found) >= at_least

    assert wait_until(enough, timeout=timeout, interval=2), f"{camera_id}: {found}"
    return found


def playback_url(zoo: dict, camera_id: str, start: int, end: int) -> str:
    """The signed playback URL /api/recordings/<id>/playback hands out (its token signs <id>/rec)."""
    expires = int(time.time()) + 900
    token = link_token(zoo["secret"], f"{camera_id}/rec", expires)
    return f"{zoo['base']}/r/{token}/{expires}/{camera_id}/{start}-{end}.m3u8"


def test_hevc_recordings_play_back_as_fmp4_tagged_hvc1(zoo):
    files = finished_recordings(zoo, HEVC_RECORDING, at_least=2)
    vod = playback_url(zoo, HEVC_RECORDING, files[0][0], files[-1][1])
    client = Client()
    text = client.fetch(vod).body.decode()
    assert playlist_problems(text, live=False) == [], text
    playlist = parse_playlist(text)
    assert playlist.ended and len(playlist.segments) >= 2 and all(s.uri.endswith(".mp4") for s in playlist.segments)
    assert not any(s.discontinuity for s in playlist.segments), text  # one run: the files continue each other
    length = int(text.split('BYTERANGE="', 1)[1].split("@", 1)[0])
    init = client.fetch(segment_url(vod, playlist.map_uri), headers={"Range": f"bytes=0-{length - 1}"})
    assert init.status == 206 and len(init.body) == length
    assert read_init(init.body).video.codec.startswith("hvc1.")  # Apple's sample entry, as live
    probed = ffprobe_url(vod, zoo["state"], "format=duration:stream=codec_type,codec_name,width,height")
    video = [s for s in probed.get("streams", []) if s.get("codec_type") == "video"]
    assert video and (video[0]["codec_name"], video[0]["width"], video[0]["height"]) == ("hevc", 640, 360), probed
    assert float(probed["format"]["duration"]) >= 0.9 * sum(s.duration for s in playlist.segments), probed


@browser
def test_hls_js_plays_back_an_h264_recording(zoo):
    files = finished_recordings(zoo, WITH_SUB, at_least=2)
    result = play_hls(playback_url(zoo, WITH_SUB, files[0][0], files[-1][1]), seconds=8, startup_timeout=40)
    assert result.ok and not result.fatal_errors, result.summary()
    assert (result.video_width, result.video_height) == (640, 360), result.summary()
    assert result.advanced_with_wall_time(0.6), result.summary()


def test_a_zoo_redeploy_changes_nothing(zoo):
    again = zoo["deployer"].run()
    total = grand_total(again.stdout + again.stderr)
    assert total["success"] == "-" and total["error"] == "-"
