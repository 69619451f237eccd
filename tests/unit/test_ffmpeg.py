"""The ffmpeg command line and its version-dependent choices."""

import pytest

from camgate.ffmpeg import RTSP_URL_PLACEHOLDER, camera_args, ffmpeg_major, input_url, socket_timeout_option
from camgate.model import parse_gateway


def camera(**fields):
    raw = {"id": "cam1", "url": "rtsp://10.0.0.2:554/live", **fields}
    return parse_gateway("gw", {"domain": "gw.example", "acme_email": "ops@example.com", "cameras": [raw]}).cameras[0]


@pytest.mark.parametrize(
    ("installed", "distro", "release", "major"),
    [
        ("7:5.1.6-0+deb12u1", "debian", "12", 5),
        ("7:4.4.2-0ubuntu0.22.04.1", "ubuntu", "22.04", 4),
        ("7:6.1.1-3ubuntu5", "ubuntu", "24.04", 6),
        (None, "ubuntu", "22.04", 4),
        (None, "ubuntu", "24.04", 6),
        (None, "debian", "12", 5),
        (None, "debian", "11", 4),
        (None, "debian", "12.8", 5),
        (None, "somethingnew", "1", 7),
    ],
)
def test_ffmpeg_major_prefers_installed_then_distribution(installed, distro, release, major):
    assert ffmpeg_major(installed, distro, release) == major


def test_stall_timeout_option_follows_the_version():
    assert socket_timeout_option(4) == "-stimeout"
    assert socket_timeout_option(5) == "-timeout"
    args = camera_args(camera(rtsp_timeout=7), "/run/camgate/hls/cam1", 4)
    assert args[args.index("-stimeout") + 1] == "7000000"
    assert args.index("-stimeout") < args.index("-i")


def test_video_is_copied_and_hls_flags_keep_the_stream_live():
    args = camera_args(camera(), "/run/camgate/hls/cam1", 5)
    assert args[args.index("-c:v") + 1] == "copy"
    flags = args[args.index("-hls_flags") + 1].split("+")
    assert {"delete_segments", "append_list", "temp_file", "omit_endlist"} <= set(flags)
    assert args[args.index("-i") + 1] == RTSP_URL_PLACEHOLDER
    assert args[-1] == "/run/camgate/hls/cam1/stream.m3u8"
    assert args[args.index("-rtsp_transport") + 1] == "tcp"


@pytest.mark.parametrize(
    ("audio", "expected"),
    [("copy", ["-c:a", "copy", "-copyinkf:a"]), ("aac", ["-c:a", "aac", "-ac", "1", "-ar", "16000", "-b:a", "48k"]), ("none", ["-an"])],
)
def test_audio_setting(audio, expected):
    args = camera_args(camera(audio=audio), "/d", 5)
    joined = " ".join(args)
    assert " ".join(expected) in joined
    assert ("0:a:0?" in args) == (audio != "none")


def test_credentials_are_percent_encoded():
    cam = camera(username="ad min", password_ref="secret:x")
    assert input_url(cam, "p@ss:w/rd") == "rtsp://ad%20min:p%40ss%3Aw%2Frd@10.0.0.2:554/live"
    assert input_url(camera(), None) == "rtsp://10.0.0.2:554/live"
