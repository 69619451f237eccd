"""The browser player (tests/players/browser.py) against HLS made here by ffmpeg and served on loopback.

Proves the harness before the suite trusts it on the gateway: live MPEG-TS and fMP4 HLS play in headless
Chromium with hls.js (currentTime keeps up with the wall clock, 640x360 on screen), a forced variant of a
multivariant playlist is the one played, and broken streams (HEVC, junk segments, 404s, a playlist that
stops updating) come back not ok, so a test built on it can fail.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.players.browser import PlayResult, browser_unavailable_reason, play_hls

REPO = Path(__file__).resolve().parents[2]
SECONDS = 6  # playback per positive run, after the first frame
FFMPEG_LIMIT = 300  # seconds: the live encoders stop by themselves even if teardown never runs

needs_browser = pytest.mark.skipif(
    bool(browser_unavailable_reason()) or not shutil.which("ffmpeg"),
    reason=f"browser player unavailable: {browser_unavailable_reason() or 'ffmpeg is not installed'}",
)

MASTER = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=640x360,CODECS="avc1.42c01e,mp4a.40.2",FRAME-RATE=25
v0.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=320x180,CODECS="avc1.42c00d,mp4a.40.2",FRAME-RATE=25
v1.m3u8
"""


def live_encoder(out: Path, segment_type: str) -> subprocess.Popen:
    """A live-like HLS source: testsrc2 at 640x360 (v0) and 320x180 (v1), each with AAC, 1 s segments,
    a 6-segment window with EXT-X-PROGRAM-DATE-TIME, paced at real time (-re)."""
    ext = "ts" if segment_type == "mpegts" else "m4s"
    command = [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re",
        "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-filter_complex", "[0:v]split=2[a][b];[b]scale=320:180[c]",
        "-map", "[a]", "-map", "[c]", "-map", "1:a", "-map", "1:a", "-t", str(FFMPEG_LIMIT),
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
        "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-b:v:0", "800k", "-b:v:1", "200k",
        "-c:a", "aac", "-b:a", "64k",
        "-f", "hls", "-hls_time", "1", "-hls_list_size", "6", "-hls_segment_type", segment_type,
        "-hls_flags", "delete_segments+program_date_time+independent_segments",
        "-var_stream_map", "v:0,a:0 v:1,a:1", "-hls_fmp4_init_filename", "init.mp4",
        "-hls_segment_filename", str(out / f"v%v-%05d.{ext}"), str(out / "v%v.m3u8"),
    ]
    with open(out / "ffmpeg.log", "wb") as log:  # ffmpeg keeps its own copy of the descriptor
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)


def vod(out: Path, name: str, *args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
         "testsrc2=size=320x180:rate=25", "-t", "3", *args, "-g", "25", "-f", "hls", "-hls_time", "1",
         "-hls_list_size", "0", "-hls_segment_filename", str(out / f"{name}-%03d.{'m4s' if 'fmp4' in args else 'ts'}"),
         str(out / f"{name}.m3u8")],
        check=True, capture_output=True, timeout=120,
    )


def broken_streams(out: Path) -> None:
    """The negative controls, each a playlist in `out`."""
    # Real HEVC in fMP4, as a camera passing H.265 through would give: Linux Chromium has no HEVC decoder.
    vod(out, "hevc", "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
        "-tag:v", "hvc1", "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "hevc-init.mp4",
        "-hls_playlist_type", "vod")
    (out / "hevc-master.m3u8").write_text(
        '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=320x180,CODECS="hvc1.1.6.L63.90"\nhevc.m3u8\n')
    # A live playlist whose segments are junk bytes, and one whose segments are missing (404).
    junk = bytes((i * 7919 + 13) % 251 for i in range(188 * 1000))
    live3 = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n"
    for name in ("junk", "missing"):
        (out / f"{name}.m3u8").write_text(live3 + "".join(f"#EXTINF:1.0,\n{name}-{i}.ts\n" for i in range(3)))
    for i in range(3):
        (out / f"junk-{i}.ts").write_bytes(junk)
    # A variant on a host that is not the stream's.
    (out / "elsewhere.m3u8").write_text("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=300000\nhttp://elsewhere.invalid/v0.m3u8\n")
    # A live playlist (no EXT-X-ENDLIST) that never updates: 3 s play, then the player waits forever.
    vod(out, "frozen", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
    frozen = out / "frozen.m3u8"
    frozen.write_text(frozen.read_text().replace("#EXT-X-ENDLIST\n", ""))


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self):
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format, *args):
        pass


def wait_for_segments(playlist: Path, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if playlist.exists() and playlist.read_text().count("#EXTINF") >= count:
            return
        time.sleep(0.2)
    log = (playlist.parent / "ffmpeg.log")
    raise AssertionError(f"{playlist} has no {count} segments after {timeout} s: "
                         f"{log.read_text(errors='replace')[-1000:] if log.exists() else ''}")


@pytest.fixture(scope="module")
def hls_root(tmp_path_factory):
    return tmp_path_factory.mktemp("hls")


@pytest.fixture(scope="module")
def hls_site(hls_root):
    """http://127.0.0.1:PORT/ serving ts/ and fmp4/ (live, two variants and master.m3u8) and bad/."""
    root = hls_root
    encoders = []
    server = None
    try:
        for directory, segment_type in (("ts", "mpegts"), ("fmp4", "fmp4")):
            (root / directory).mkdir()
            (root / directory / "master.m3u8").write_text(MASTER)
            encoders.append(live_encoder(root / directory, segment_type))
        (root / "bad").mkdir()
        broken_streams(root / "bad")
        for directory in ("ts", "fmp4"):
            for variant in ("v0", "v1"):
                wait_for_segments(root / directory / f"{variant}.m3u8", 3, timeout=30)
        handler = functools.partial(QuietHandler, directory=str(root))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        if server:
            server.shutdown()
            server.server_close()
        for encoder in encoders:
            encoder.terminate()
        for encoder in encoders:
            try:
                encoder.wait(timeout=10)
            except subprocess.TimeoutExpired:
                encoder.kill()
                encoder.wait()


def assert_played(result: PlayResult, width: int, height: int) -> None:
    assert result.ok, result.summary()
    assert not result.fatal_errors, result.summary()
    assert (result.video_width, result.video_height) == (width, height), result.summary()
    assert result.advanced_with_wall_time(0.65), result.summary()
    assert result.play_wall_seconds >= SECONDS * 0.9, result.summary()
    assert result.frames_decoded > 0 and result.frag_loaded > 0, result.summary()


@needs_browser
@pytest.mark.parametrize("flavour", ["ts", "fmp4"])
def test_live_hls_plays(hls_site, flavour):
    result = play_hls(f"{hls_site}/{flavour}/v0.m3u8", seconds=SECONDS, startup_timeout=15)
    assert_played(result, 640, 360)
    assert set(result.buffer_codecs) in ({"audio", "video"}, {"audiovideo"}), result.buffer_codecs
    assert result.audio_decoded_bytes > 0, result.summary()  # muted, but the AAC is decoded
    assert result.blocked_requests == [], result.blocked_requests
    # ffmpeg writes EXT-X-PROGRAM-DATE-TIME from this machine's clock, so the latency is real.
    assert result.latency_source == "program-date-time", result.summary()
    assert 0.5 < result.latency_s < 10, result.summary()


@needs_browser
@pytest.mark.parametrize("flavour", ["ts", "fmp4"])
def test_forced_level_plays_that_variant(hls_site, flavour):
    """Variant 1 of the multivariant playlist is the 320x180 one, although hls.js sorts it first."""
    result = play_hls(f"{hls_site}/{flavour}/master.m3u8", seconds=SECONDS, level=1, startup_timeout=15)
    assert_played(result, 320, 180)
    assert result.level_played == 1, result.summary()
    assert {switch[1] for switch in result.level_switches} == {1}, result.level_switches


@needs_browser
def test_multivariant_levels_are_reported_in_manifest_order(hls_site):
    result = play_hls(f"{hls_site}/ts/master.m3u8", seconds=SECONDS, startup_timeout=15)
    assert result.ok, result.summary()
    assert [(level["width"], level["height"]) for level in result.levels] == [(640, 360), (320, 180)]
    assert result.manifest_codecs == ["avc1.42c01e,mp4a.40.2", "avc1.42c00d,mp4a.40.2"]
    assert (result.video_width, result.video_height) == (
        result.levels[result.level_played]["width"], result.levels[result.level_played]["height"])


@needs_browser
@pytest.mark.parametrize(
    ("playlist", "fatal"),
    [
        ("bad/hevc.m3u8", "bufferAddCodecError"),  # the init segment says hvc1: no SourceBuffer for it
        ("bad/hevc-master.m3u8", "manifestIncompatibleCodecsError"),  # CODECS says hvc1: no playable level
        ("bad/junk.m3u8", "fragParsingError"),  # segments that are not media
        ("bad/missing.m3u8", None),  # 404 segments: hls.js keeps retrying, no frame ever comes
        ("ts/master.m3u8?level=2", "levelUnavailable"),  # there is no third variant
    ],
)
def test_broken_streams_are_not_ok(hls_site, playlist, fatal):
    path, _, level = playlist.partition("?level=")
    result = play_hls(f"{hls_site}/{path}", seconds=4, startup_timeout=6, level=int(level) if level else None)
    assert not result.ok, result.summary()
    assert result.problems
    assert result.first_frame_s is None and result.video_width == 0, result.summary()
    assert not result.advanced_with_wall_time(0.1)
    if fatal:
        assert fatal in result.fatal_details, result.summary()
    else:
        assert {e.get("response_code") for e in result.errors} == {404}, result.errors


@needs_browser
def test_a_playlist_that_stops_updating_is_not_ok(hls_site):
    """Frames come, then currentTime stops: dimensions alone would pass it, the wall clock does not."""
    result = play_hls(f"{hls_site}/bad/frozen.m3u8", seconds=SECONDS, startup_timeout=10)
    assert not result.ok, result.summary()
    assert result.video_width == 320 and result.first_frame_s is not None, result.summary()
    assert not result.advanced_with_wall_time(0.65), result.summary()
    assert any("currentTime advanced" in problem for problem in result.problems), result.problems


@needs_browser
def test_only_the_streams_origin_is_reachable(hls_site):
    """A variant on another host: the page's origin list aborts the request before it is sent (and
    Chromium would not resolve the name anyway)."""
    result = play_hls(f"{hls_site}/bad/elsewhere.m3u8", seconds=2, startup_timeout=5)
    assert not result.ok
    assert set(result.blocked_requests) == {"http://elsewhere.invalid/v0.m3u8"}, result.summary()


IN_NETNS = """
import functools, http.server, json, subprocess, sys, threading
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
subprocess.run(["ip", "addr", "add", "10.231.250.1/32", "dev", "lo"], check=True)
from tests.players.browser import play_hls
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
handler.log_message = lambda *args: None
server = http.server.ThreadingHTTPServer(("10.231.250.1", 0), handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
port = server.server_address[1]
for url, host_map in ((f"http://10.231.250.1:{port}/ts/v0.m3u8", None),
                      (f"http://cams.test:{port}/fmp4/v0.m3u8", {"cams.test": "10.231.250.1"})):
    result = play_hls(url, seconds=3, startup_timeout=10, host_map=host_map)
    print(json.dumps({"url": url, "ok": result.ok, "summary": result.summary()}), flush=True)
"""


@needs_browser
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"),
                    reason="needs root, unshare and ip (a throwaway network namespace)")
def test_plays_plain_http_from_a_private_address(hls_site, hls_root):
    """Plain HTTP from a private (testbed-like) address, by IP and by a mapped name: Chromium's
    Private/Local Network Access rules block that unless the page has the server's own address space,
    so this guards the page being a real response of the stream's server. In a network namespace of
    its own, with 10.231.250.1 on its loopback: nothing leaves this machine."""
    result = subprocess.run(
        ["unshare", "--net", sys.executable, "-c", IN_NETNS, str(hls_root)], cwd=REPO, check=False,
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    plays = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(plays) == 2, result.stdout + result.stderr[-2000:]
    for play in plays:
        assert play["ok"], play


def test_advanced_with_wall_time_from_samples():
    """The helper on made-up samples: 10 s of wall time after the first frame."""
    steady = PlayResult(first_frame_s=1.0, first_frame_current_time=3.0,
                        current_time_samples=[[0.5, 0.0], [1.0, 3.0], [6.0, 8.0], [11.0, 13.0]])
    assert steady.advanced_with_wall_time(0.95)
    stuck = PlayResult(first_frame_s=1.0, first_frame_current_time=3.0,
                       current_time_samples=[[1.0, 3.0], [6.0, 8.0], [11.0, 8.1]])
    assert stuck.advanced_with_wall_time(0.5) and not stuck.advanced_with_wall_time(0.65)
    assert not PlayResult(current_time_samples=[[1.0, 0.0]]).advanced_with_wall_time()


def test_unknown_json_keys_are_kept():
    result = PlayResult.from_json({"ok": True, "video_width": 640, "something_new": 1})
    assert result.ok and result.video_width == 640 and result.extra == {"something_new": 1}
