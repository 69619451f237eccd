"""This machine's ffmpeg writes real fMP4 HLS, and camgate.gateway.media reads back what ffprobe says.

Camera-like sources (testsrc2 640x360 at 25 fps, one keyframe a second, G.711 audio like many cameras)
are copied into fMP4 HLS the way a camera unit does (-c:v copy -tag:v hvc1, camgate's AAC arguments),
plus one H.264 stream encoded straight into HLS, whose master playlist ffmpeg can fill in itself: its
avc1 string is then an oracle for ours. The written multivariant playlist is read back by ffprobe.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from camgate.ffmpeg import AAC_ARGS, FMP4_SEGMENT_PATTERN, INIT_NAME, PLAYLIST_NAME
from camgate.gateway import media
from camgate.gateway.media import MediaError, multivariant_playlist, read_init, read_segment, variant_stream_inf

pytestmark = pytest.mark.skipif(not (shutil.which("ffmpeg") and shutil.which("ffprobe")), reason="needs ffmpeg and ffprobe")

HOST_PYTHON = "/usr/bin/python3"
SECONDS = 4
FPS = 25
LAVFI_VIDEO = ["-f", "lavfi", "-i", f"testsrc2=size=640x360:rate={FPS}"]
LAVFI_AUDIO = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000"]
H264 = ["-c:v", "libx264", "-profile:v", "high", "-g", str(FPS), "-pix_fmt", "yuv420p"]
# Closed GOPs, a keyframe every second and no scene cuts: segments of exactly 1 s, as a camera sends.
X265 = ["-c:v", "libx265", "-x265-params", f"log-level=error:keyint={FPS}:min-keyint={FPS}:scenecut=0:open-gop=0", "-pix_fmt", "yuv420p"]
H264_PROFILE_IDC = {"Baseline": 0x42, "Constrained Baseline": 0x42, "Main": 0x4D, "High": 0x64}
HEVC_PROFILE_IDC = {"Main": 1, "Main 10": 2}
# What each case must read as: video sample entry, audio codec or None.
EXPECTED = {
    "h264-encoded": ("avc1", "mp4a.40.2"),
    "h264-copy": ("avc1", "mp4a.40.2"),  # -tag:v hvc1 leaves H.264 as avc1
    "hevc-copy": ("hvc1", "mp4a.40.2"),
    "hevc-copy-untagged": ("hev1", None),  # the mp4 muxer's default for HEVC
}


def ffmpeg(*args: str) -> None:
    result = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args], check=False, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def has_encoder(name: str) -> bool:
    out = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], check=False, capture_output=True, text=True, timeout=30).stdout
    return any(line.split()[1:2] == [name] for line in out.splitlines())


def hls_args(folder: Path) -> list[str]:
    """The live output of a camera unit (camgate.ffmpeg), with 1 s segments and nothing deleted."""
    return [
        "-f", "hls", "-hls_time", "1", "-hls_list_size", "0", "-hls_flags", "independent_segments",
        "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", INIT_NAME,
        "-hls_segment_filename", str(folder / FMP4_SEGMENT_PATTERN),
    ]  # fmt: skip


def make_case(case: str, root: Path) -> Path:
    folder = root / case
    folder.mkdir()
    if case == "h264-encoded":
        audio = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
        ffmpeg(*LAVFI_VIDEO, *audio, "-t", str(SECONDS), *H264, "-c:a", "aac", "-ac", "2",
               *hls_args(folder), "-master_pl_name", "master.m3u8", str(folder / PLAYLIST_NAME))  # fmt: skip
        return folder
    codec = X265 if case.startswith("hevc") else H264
    source = root / f"{case}-source.mkv"
    ffmpeg(*LAVFI_VIDEO, *LAVFI_AUDIO, "-t", str(SECONDS), *codec, "-c:a", "pcm_mulaw", "-f", "matroska", str(source))
    tag = [] if case.endswith("untagged") else ["-tag:v", "hvc1"]
    audio = ["-an"] if case.endswith("untagged") else AAC_ARGS
    ffmpeg(
        "-i", str(source), "-map", "0:v:0", "-map", "0:a:0?", "-c:v", "copy", *tag, *audio, *hls_args(folder), str(folder / PLAYLIST_NAME)
    )
    return folder


@pytest.fixture(scope="module", params=list(EXPECTED))
def hls(request, tmp_path_factory) -> Path:
    if request.param.startswith("hevc") and not has_encoder("libx265"):
        pytest.skip("this ffmpeg has no libx265")
    return make_case(request.param, tmp_path_factory.mktemp("hls"))


def probe(path: Path) -> dict[str, dict]:
    """ffprobe's streams of a playlist, by codec type (it reads init section and segments together)."""
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_programs", "-of", "json", str(path)],
                         capture_output=True, text=True, timeout=60, check=True).stdout  # fmt: skip
    found = json.loads(out)
    return {"programs": found.get("programs", []), **{s["codec_type"]: s for s in found["streams"]}}


def extinfs(playlist: Path) -> list[tuple[float, str]]:
    lines = playlist.read_text().splitlines()
    return [(float(line[8:].split(",")[0]), lines[i + 1]) for i, line in enumerate(lines) if line.startswith("#EXTINF:")]


def attribute_list(text: str) -> dict[str, str]:
    return {m.group(1): m.group(2).strip('"') for m in re.finditer(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', text)}


def read_all(folder: Path):
    init = read_init((folder / INIT_NAME).read_bytes())
    segments = [
        (read_segment((folder / uri).read_bytes(), init), (folder / uri).stat().st_size) for _, uri in extinfs(folder / PLAYLIST_NAME)
    ]
    return init, segments


def test_init_section_matches_ffprobe(hls):
    case = hls.name
    entry, audio_codec = EXPECTED[case]
    init = read_init((hls / INIT_NAME).read_bytes())
    streams = probe(hls / PLAYLIST_NAME)
    video = init.video
    assert video.sample_entry == entry
    assert (video.width, video.height) == (streams["video"]["width"], streams["video"]["height"]) == (640, 360)
    parts = video.codec.split(".")
    if entry == "avc1":
        # avc1.PPCCLL: profile_idc from ffprobe's profile name, level_idc from its level (e.g. 30 = 3.0).
        assert parts[0] == "avc1" and len(parts[1]) == 6
        assert parts[1][:2] == f"{H264_PROFILE_IDC[streams['video']['profile']]:02x}" == "64"
        assert parts[1][4:] == f"{streams['video']['level']:02x}"
    else:
        # hvc1.<profile>.<compat>.L<level>.<constraints>: Main is compatible with Main and Main 10 (6).
        assert parts[:4] == [entry, str(HEVC_PROFILE_IDC[streams["video"]["profile"]]), "6", f"L{streams['video']['level']}"]
    if audio_codec is None:
        assert init.audio is None and "audio" not in streams
    else:
        assert init.audio.codec == audio_codec and streams["audio"]["profile"] == "LC"
        assert init.audio.sample_rate == int(streams["audio"]["sample_rate"])
        assert init.audio.channels == streams["audio"]["channels"]


def test_segments_match_the_media_playlist(hls):
    init, segments = read_all(hls)
    durations = [seconds for seconds, _ in extinfs(hls / PLAYLIST_NAME)]
    assert len(segments) == SECONDS
    start = 0.0
    for (info, size), extinf in zip(segments, durations):
        video = info.video
        assert video.samples == FPS and video.seconds == pytest.approx(1.0) and info.duration == pytest.approx(extinf, abs=1e-3)
        assert info.frame_rate == pytest.approx(FPS)
        assert video.start == pytest.approx(start)
        assert info.size == size and not info.truncated
        if init.audio:
            assert info.audio.samples > 0 and info.audio.seconds == pytest.approx(1.0, abs=0.1)
        start += video.seconds


def test_the_head_of_each_segment_is_enough(hls):
    init, segments = read_all(hls)
    for (info, _), (_, uri) in zip(segments, extinfs(hls / PLAYLIST_NAME)):
        head = read_segment((hls / uri).read_bytes()[:4096], init)
        assert head.tracks == info.tracks and head.truncated


def test_cut_init_sections_and_segments_are_media_errors(hls):
    data = (hls / INIT_NAME).read_bytes()
    init = read_init(data)
    for cut in range(len(data)):
        with pytest.raises(MediaError):
            read_init(data[:cut])
    segment = (hls / extinfs(hls / PLAYLIST_NAME)[1][1]).read_bytes()
    moof = segment.index(b"moof") - 4
    moof_end = moof + int.from_bytes(segment[moof : moof + 4], "big")
    for cut in range(moof_end):
        with pytest.raises(MediaError):
            read_segment(segment[:cut], init)


def test_multivariant_playlist_reads_back(hls):
    case = hls.name
    init, segments = read_all(hls)
    attributes = variant_stream_inf(init, segments)
    total_bytes = sum(size for _, size in segments)
    total_seconds = sum(info.duration for info, _ in segments)
    assert attributes["AVERAGE-BANDWIDTH"] == math.ceil(8 * total_bytes / total_seconds)
    assert attributes["BANDWIDTH"] == max(math.ceil(8 * size / info.duration) for info, size in segments)  # 1 s each
    assert attributes["RESOLUTION"] == "640x360" and attributes["FRAME-RATE"] == "25.000"
    codecs = ",".join(c for c in (init.video.codec, init.audio and init.audio.codec) if c)
    assert attributes["CODECS"] == codecs

    (hls / "camgate.m3u8").write_text(multivariant_playlist([(PLAYLIST_NAME, attributes)]))
    lines = (hls / "camgate.m3u8").read_text().splitlines()
    assert lines[:2] == ["#EXTM3U", "#EXT-X-INDEPENDENT-SEGMENTS"] and lines[3] == PLAYLIST_NAME
    assert lines[2].startswith("#EXT-X-STREAM-INF:")
    assert attribute_list(lines[2].split(":", 1)[1]) == {name: str(value) for name, value in attributes.items()}
    # ffmpeg's HLS demuxer follows it to the media playlist and reports BANDWIDTH as variant_bitrate.
    streams = probe(hls / "camgate.m3u8")
    assert streams["programs"][0]["tags"]["variant_bitrate"] == str(attributes["BANDWIDTH"])
    assert streams["video"]["codec_name"] == ("h264" if case.startswith("h264") else "hevc")
    if case == "h264-encoded":
        # ffmpeg filled in its own master playlist from the encoder's avcC: the same avc1 string.
        theirs = attribute_list((hls / "master.m3u8").read_text().splitlines()[2].split(":", 1)[1])
        assert theirs["CODECS"].split(",")[0] == init.video.codec


def test_the_module_runs_under_the_hosts_python_alone(hls):
    """Loaded as a file by /usr/bin/python3 -I -S (no site-packages), it reads the same codecs."""
    if not Path(HOST_PYTHON).exists():
        pytest.skip(f"no {HOST_PYTHON}")
    script = (
        "import importlib.util as u, json, sys; "
        f"s = u.spec_from_file_location('camgate_media', {str(Path(media.__file__))!r}); m = u.module_from_spec(s); "
        "sys.modules[s.name] = m; s.loader.exec_module(m); "
        f"i = m.read_init(open({str(hls / INIT_NAME)!r}, 'rb').read()); "
        "print(json.dumps([t.codec for t in i.tracks]))"
    )
    result = subprocess.run([HOST_PYTHON, "-I", "-S", "-c", script], check=False, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    init = read_init((hls / INIT_NAME).read_bytes())
    assert json.loads(result.stdout) == [t.codec for t in init.tracks]
