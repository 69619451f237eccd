"""Health on streams this machine's ffmpeg writes the way camera units do: H.264 and HEVC fMP4 are up
with codecs read from the media, MJPEG is unplayable, an encrypted MPEG-TS stream is up with its avc1
string read through its keys. (G.711 copied into fMP4 never gets this far: ffmpeg refuses to mux it,
and the unit is down with ffmpeg's reason.)"""

import shutil
import subprocess

import pytest

from camgate.ffmpeg import AAC_ARGS
from camgate.gateway.health import judge

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
SOURCE = ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=sample_rate=8000", "-t", "4"]
HLS = ["-f", "hls", "-hls_time", "1", "-hls_list_size", "6", "-hls_flags", "independent_segments"]


def write_stream(folder, video: list[str], audio: list[str], segment_type: str = "fmp4", extra: list[str] = ()) -> dict:
    folder.mkdir()
    segments = ["-hls_segment_type", segment_type]
    if segment_type == "fmp4":
        segments += ["-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename", str(folder / "seg-%d.m4s")]
    else:
        segments += ["-hls_segment_filename", str(folder / "seg-%d.ts")]
    subprocess.run(
        ["ffmpeg", "-v", "error", *SOURCE, "-map", "0:v", "-map", "1:a", *video, "-tag:v", "hvc1", *audio,
         *HLS, *segments, *extra, str(folder / "stream.m3u8")],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return {"id": "cam", "unit": "u", "dir": str(folder), "playlist": str(folder / "stream.m3u8"), "hls_time": 1}


def test_h264_with_transcoded_g711_is_up_with_codecs_size_and_rate(tmp_path):
    cam = write_stream(tmp_path / "h264", ["-c:v", "libx264", "-profile:v", "main", "-g", "25"], AAC_ARGS)
    verdict, reason, attributes = judge(cam, active=True, age=0.5, last_error=None)
    assert (verdict, reason) == ("up", None)
    assert attributes["CODECS"].startswith("avc1.4d") and attributes["CODECS"].endswith(",mp4a.40.2")
    assert attributes["RESOLUTION"] == "640x360" and attributes["FRAME-RATE"] == "25.000"
    assert attributes["BANDWIDTH"] >= attributes["AVERAGE-BANDWIDTH"] > 0


def test_hevc_tagged_hvc1_is_up(tmp_path):
    cam = write_stream(tmp_path / "hevc", ["-c:v", "libx265", "-g", "25", "-x265-params", "log-level=error:open-gop=0:scenecut=0"], ["-an"])
    verdict, _, attributes = judge(cam, active=True, age=0.5, last_error=None)
    assert verdict == "up" and attributes["CODECS"].startswith("hvc1.1.")


def test_mjpeg_is_unplayable_with_the_fix(tmp_path):
    cam = write_stream(tmp_path / "mjpeg", ["-c:v", "mjpeg", "-q:v", "8"], ["-an"])
    verdict, reason, _ = judge(cam, active=True, age=0.5, last_error=None)
    assert verdict == "unplayable" and "players cannot decode" in reason and "H.264 or H.265" in reason


def test_an_encrypted_ts_stream_is_read_through_its_keys(tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "k.key").write_bytes(bytes(range(16)))
    (keys / "keyinfo.txt").write_text(f"k.key\n{keys / 'k.key'}\n")
    cam = write_stream(tmp_path / "ts", ["-c:v", "libx264", "-profile:v", "high", "-g", "25"], AAC_ARGS,
                       segment_type="mpegts", extra=["-hls_key_info_file", str(keys / "keyinfo.txt")])  # fmt: skip
    shutil.copy(keys / "k.key", tmp_path / "ts" / "k.key")  # the key URI is relative to the playlist
    verdict, reason, attributes = judge(cam, active=True, age=0.5, last_error=None)
    assert (verdict, reason) == ("up", None)
    assert attributes["CODECS"].startswith("avc1.64") and attributes["CODECS"].endswith(",mp4a.40.2")
    assert attributes["RESOLUTION"] == "640x360" and attributes["FRAME-RATE"] == "25.000"
