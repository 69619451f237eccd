"""Which ONVIF profiles camgate takes as a camera's main and sub streams, how it recognises the stream a
site already pulls, and the keyframe interval `camera tune` accepts."""

import click
import pytest

from camgate.cli.onvif import Seconds
from camgate.model import check_onvif_address
from camgate.onvif import Profile, main_and_sub, same_stream, split_address


def profile(name: str, encoding: str, width: int, height: int, uri: str) -> Profile:
    return Profile(token=f"profile_{name}", name=name, encoding=encoding, width=width, height=height, fps=25.0,
                   gov_length=50, bitrate_kbps=None, stream_uri=uri, snapshot_uri=None,
                   encoder_token=f"vec_{name}", media="media")  # fmt: skip


def test_the_largest_h264_or_h265_picture_is_main_and_the_smallest_other_stream_is_sub():
    profiles = (profile("sub", "H264", 640, 360, "rtsp://c/102"), profile("third", "H264", 1280, 720, "rtsp://c/103"),
                profile("mjpeg", "JPEG", 3840, 2160, "rtsp://c/jpeg"), profile("main", "H265", 2560, 1440, "rtsp://c/101"))  # fmt: skip
    main, sub = main_and_sub(profiles)
    assert (main.name, sub.name) == ("main", "sub")


def test_a_camera_whose_profiles_share_one_stream_has_no_sub():
    profiles = (profile("a", "H264", 1920, 1080, "rtsp://c:554/live"), profile("b", "H264", 640, 360, "rtsp://C/live"))
    assert main_and_sub(profiles) == (profiles[0], None)


def test_a_camera_with_only_mjpeg_has_neither():
    assert main_and_sub((profile("m", "JPEG", 640, 360, "rtsp://c/m"),)) == (None, None)


@pytest.mark.parametrize(("a", "b", "same"), [
    ("rtsp://Cam.local/s1", "rtsp://cam.local:554/s1", True),
    ("rtsp://cam/s1?ch=1", "rtsp://cam/s1?ch=2", False),
    ("rtsp://cam:8554/s1", "rtsp://cam/s1", False),
    ("rtsp://cam/s1", None, False),
])  # fmt: skip
def test_the_same_stream_is_recognised_whatever_the_host_case_and_default_port(a, b, same):
    assert same_stream(a, b) is same


@pytest.mark.parametrize(("address", "split"), [("192.168.1.20", ("192.168.1.20", 80)), ("cam.local:8080", ("cam.local", 8080))])
def test_an_onvif_address_defaults_to_port_80(address, split):
    assert check_onvif_address(address) is None and split_address(address) == split


@pytest.mark.parametrize("address", ["192.168.1.20:0", "192.168.1.20:http", "not a host", "rtsp://192.168.1.20"])
def test_a_bad_onvif_address_is_named_with_the_fix(address):
    assert "fix:" in check_onvif_address(address)


@pytest.mark.parametrize(("text", "seconds"), [("1s", 1.0), ("2", 2.0), ("500ms", 0.5), ("1.5s", 1.5)])
def test_a_keyframe_interval_is_read_in_seconds_or_milliseconds(text, seconds):
    assert Seconds().convert(text, None, None) == seconds


@pytest.mark.parametrize("text", ["0s", "fast", "-1s", "61s"])
def test_a_keyframe_interval_that_is_not_one_is_refused(text):
    with pytest.raises(click.BadParameter, match="is not a keyframe interval; use e.g. 1s"):
        Seconds().convert(text, None, None)
