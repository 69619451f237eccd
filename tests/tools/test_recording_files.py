"""Recording files as this machine's ffmpeg writes them with the units' recording options: fragmented
MP4 whose init section (ftyp + moov, at the start) is what the playback playlist's EXT-X-MAP
addresses by byte range, H.264 tagged avc1 and HEVC hvc1, and files that continue each other's
timestamps, so playback needs no discontinuity between the files of one run. Then the playback
playlist itself, as the gateway's njs module writes it over those files (Debian's njs, the engine
of the gateway's libnginx-mod-http-js)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest

from camgate.ffmpeg import AAC_ARGS, recording_options, video_args
from camgate.gateway.media import boxes, read_init, read_segment
from camgate.gateway.retention import repair_newest, start_of, whole_fragments_end
from camgate.model import Camera, parse_gateway
from camgate.render import render_manifest_module
from tests.players.hls import parse_playlist, rfc8216_problems
from tests.testbed.proc import wait_until

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")

SECONDS = 18
FPS = 25
ENCODERS = {"avc1": ["-c:v", "libx264", "-pix_fmt", "yuv420p"], "hvc1": ["-c:v", "libx265", "-x265-params", "log-level=error"]}


def has_encoder(name: str) -> bool:
    out = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    return f" {name} " in out


def gateway(recordings_root: str = "/var/lib/camgate/recordings"):
    raw = {"id": "cam1", "url": "rtsp://192.0.2.1/a", "record": True}
    return replace(parse_gateway("gw", {"domain": "gw.example", "tls": "off", "cameras": [raw]}), recordings_root=recordings_root)


def camera() -> Camera:
    """A recording camera, with files of 2 s of wall time (the inventory allows 10 s and up) so that
    a short source gives several files. Not 1 s: files are named to the second, and on a loaded
    machine a late cut then shared its name with the next file, which replaced it."""
    return replace(gateway().cameras[0], record_segment=2)


def record(fourcc: str, folder: Path) -> list[Path]:
    """A camera-like source (1 s keyframe interval, AAC) recorded at 3x real time, so the recording
    options' wall-clock cuts (every record_segment = 2 s) give files of about 6 s of media."""
    source = folder / "camera.ts"
    subprocess.run([
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate={FPS}",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000", "-t", str(SECONDS), *ENCODERS[fourcc],
        "-g", str(FPS), *AAC_ARGS, str(source),
    ], check=True, timeout=120)  # fmt: skip
    options = [arg for key, value in recording_options(camera()) for arg in (f"-{key}", value)]
    result = subprocess.run([
        "ffmpeg", "-hide_banner", "-loglevel", "warning", "-readrate", "3", "-i", str(source), "-map", "0",
        *video_args(camera()), "-c:a", "copy", "-f", "segment", *options, str(folder / "%Y%m%dT%H%M%SZ.mp4"),
    ], capture_output=True, text=True, timeout=120, env={"TZ": "UTC", "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    return sorted(folder.glob("*Z.mp4"))


@pytest.fixture(scope="module", params=list(ENCODERS))
def recorded(request, tmp_path_factory) -> tuple[str, list[Path]]:
    encoder = ENCODERS[request.param][1]
    if not has_encoder(encoder):
        pytest.skip(f"this ffmpeg has no {encoder}")
    folder = tmp_path_factory.mktemp(request.param) / "cam1"  # <recordings_root>/<camera>
    folder.mkdir()
    return request.param, record(request.param, folder)


def init_length(data: bytes) -> int:
    """What the playback playlist's EXT-X-MAP BYTERANGE covers: the ftyp and moov boxes at the start."""
    top = boxes(data)
    assert [b.kind for b in top[:3]] == ["ftyp", "moov", "moof"], [b.kind for b in top]
    return top[1].end


def test_each_file_is_an_init_section_then_fragments_in_the_right_sample_entry(recorded):
    fourcc, files = recorded
    assert len(files) >= 3, files
    for path in files:
        data = path.read_bytes()
        init = read_init(data[: init_length(data)])
        assert init.video.codec.startswith(fourcc + "."), (path.name, init.video.codec)
        assert init.audio.codec == "mp4a.40.2"
        segment = read_segment(data[init_length(data):], init)
        assert segment.video.samples > 0 and not segment.truncated


def test_files_continue_each_others_timestamps(recorded):
    _, files = recorded
    ends = []
    for path in files:
        data = path.read_bytes()
        init = read_init(data[: init_length(data)])
        video = read_segment(data[init_length(data):], init).video
        ends.append((video.start, video.start + video.seconds))
    for (_, end), (start, _) in zip(ends, ends[1:]):
        # The next file starts where the last one ended, give or take the duration the muxer estimates
        # for a file's last frames (HEVC with reordered frames: a frame or two short); without
        # frag_discont every file would start again at 0.
        assert abs(start - end) <= 0.2, ends
    assert abs(ends[-1][1] - ends[0][0] - SECONDS) <= 1.0, ends  # nothing lost or repeated


def njs_playback(folder: Path, start: int, end: int) -> tuple[int, str]:
    """(status, body) of the gateway's playback handler (camgate.vod) for [start, end] over `folder`."""
    root = folder.parent
    (root / "camgate.js").write_text(render_manifest_module(gateway(str(root))))
    harness = root / "playback.js"
    harness.write_text(
        "import camgate from 'camgate.js';\n"
        f"var r = {{variables: {{camera: 'cam1', rec_from: '{start}', rec_to: '{end}'}}, args: {{}}, headersOut: {{}},\n"
        "    return: function (status, body) { console.log(JSON.stringify({status: status, body: body})); }};\n"
        "camgate.vod(r);\n"
    )
    result = subprocess.run(["njs", "-t", "module", "-p", str(root), str(harness)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    return answer["status"], answer["body"]


@pytest.mark.skipif(shutil.which("njs") is None, reason="needs Debian's njs")
def test_the_playback_playlist_addresses_each_files_init_section_and_fragments(recorded):
    _, files = recorded
    status, text = njs_playback(files[0].parent, int(start_of(files[0].name)), int(time.time()) + 1)
    assert status == 200, text
    assert rfc8216_problems(text, live=False) == [], text
    playlist = parse_playlist(text)
    assert [s.uri for s in playlist.segments] == [f.name for f in files[:-1]]  # the newest is still being written
    assert not any(s.discontinuity for s in playlist.segments), text  # one run: the files continue each other
    maps = re.findall(r'^#EXT-X-MAP:URI="([^"]+)",BYTERANGE="(\d+)@0"$', text, re.M)
    ranges = re.findall(r"^#EXT-X-BYTERANGE:(\d+)@(\d+)$", text, re.M)
    for path, (map_uri, map_length), (length, offset) in zip(files, maps, ranges):
        data = path.read_bytes()
        assert map_uri == path.name and int(map_length) == int(offset) == init_length(data)
        assert int(offset) + int(length) == len(data)
    assert len(maps) == len(ranges) == len(files) - 1


@pytest.mark.skipif(shutil.which("njs") is None, reason="needs Debian's njs")
def test_the_playback_playlist_lists_older_ts_recordings_first_and_skips_empty_files(recorded, tmp_path):
    _, files = recorded
    folder = tmp_path / "cam1"
    folder.mkdir()
    first = int(start_of(files[0].name))
    old = folder / time.strftime("%Y%m%dT%H%M%SZ.ts", time.gmtime(first - 60))  # recorded before fMP4
    old.write_bytes(b"G" + bytes(187))
    os.utime(old, (first - 50, first - 50))
    empty = folder / time.strftime("%Y%m%dT%H%M%SZ.mp4", time.gmtime(first - 40))  # a unit stopped at once
    empty.write_bytes(b"")
    for path in files:
        (folder / path.name).write_bytes(path.read_bytes())
        os.utime(folder / path.name, (path.stat().st_mtime, path.stat().st_mtime))
    status, text = njs_playback(folder, first - 60, int(time.time()) + 1)
    assert status == 200, text
    playlist = parse_playlist(text)
    assert [s.uri for s in playlist.segments] == [old.name] + [f.name for f in files[:-1]]
    assert [s.discontinuity for s in playlist.segments][:2] == [False, True]  # TS to fMP4: a discontinuity
    assert rfc8216_problems(text, live=False) == [], text


def test_a_file_cut_by_a_crash_is_repaired_to_what_players_decode(tmp_path):
    """ffmpeg killed (SIGKILL, as a crash or power loss) mid-file leaves a partial box at the end;
    the repair the camera unit runs before its next start trims it to the whole fragments, which
    decode without an error."""
    source = tmp_path / "camera.ts"
    subprocess.run([
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate={FPS}",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000", "-t", "20", *ENCODERS["avc1"], "-b:v", "1M",
        "-g", str(FPS), *AAC_ARGS, str(source),
    ], check=True, timeout=120)  # fmt: skip
    folder = tmp_path / "cam1"
    folder.mkdir()
    options = [arg for key, value in recording_options(replace(camera(), record_segment=60)) for arg in (f"-{key}", value)]
    writer = subprocess.Popen([
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-readrate", "1", "-i", str(source), "-map", "0",
        "-c", "copy", "-f", "segment", *options, str(folder / "%Y%m%dT%H%M%SZ.mp4"),
    ], env={"TZ": "UTC", "PATH": "/usr/bin:/bin"})  # fmt: skip
    try:
        def fragments_written() -> bool:
            files = sorted(folder.glob("*Z.mp4"))
            return bool(files) and files[-1].stat().st_size > 300_000  # a few fragments, mid-file
        assert wait_until(fragments_written, timeout=30, interval=0.1)
    finally:
        writer.kill()
        writer.wait()
    cut = sorted(folder.glob("*Z.mp4"))[-1]
    size = cut.stat().st_size
    assert whole_fragments_end(str(cut)) < size, "the killed writer left whole boxes only"
    assert repair_newest(str(folder), log=lambda _: None) == str(cut)
    data = cut.read_bytes()
    assert len(data) < size and not boxes(data)[-1].truncated
    assert read_segment(data[init_length(data):], read_init(data[: init_length(data)])).duration >= 1.0
    decoded = subprocess.run(["ffmpeg", "-v", "error", "-xerror", "-i", str(cut), "-f", "null", "-"],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert decoded.returncode == 0 and not decoded.stderr.strip(), decoded.stderr
