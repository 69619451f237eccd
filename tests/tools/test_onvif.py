"""camgate's ONVIF client (camgate/onvif.py: onvif-zeep-async with its real WSDLs, and camgate's own
Media2 requests) against the testbed's ONVIF device simulator (tests/testbed/onvif_device.py) on
loopback: two kinds of camera, a clock far off, and each way a camera can refuse or fail."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from camgate.onvif import OnvifError, change_encoder, read_device, set_keyframe_interval
from camgate.probe import analyse, ffprobe_command
from tests.testbed.cameras import FAKE_CAMERA_SCRIPT, SYSTEM_PYTHON, onvif_state_file, start_onvif_device, wait_for_ready
from tests.testbed.proc import free_ports, terminate
USER, PASSWORD = "admin", "s3cret:/@x"
MAIN = "main=rtsp://127.0.0.1:8554/cam1,H264,1280x720,25,100"
SUB = "sub=rtsp://127.0.0.1:8554/cam1-sub,H264,640x360,25,100"
H265_MAIN = "main=rtsp://127.0.0.1:8554/cam2,H265,1920x1080,20,80"


@pytest.fixture
def device(tmp_path):
    """start(brand, *profiles, clock_offset=0, stall=None) -> (port, state file); stopped afterwards."""
    started = []

    def start(brand: str, *profiles: str, clock_offset: int = 0, stall: str | None = None) -> tuple[int, Path]:
        port = free_ports(1)[0]
        started.append(start_onvif_device(tmp_path, "127.0.0.1", port, brand, list(profiles), USER, PASSWORD,
                                          clock_offset=clock_offset, stall=stall, lifetime=300))  # fmt: skip
        return port, onvif_state_file(tmp_path, port)

    yield start
    for proc in started:
        terminate(proc.pid, grace=5)
        proc.wait()


def gov_lengths(state: Path) -> dict[str, int]:
    return {name: profile["gov_length"] for name, profile in json.loads(state.read_text())["profiles"].items()}


def encoders(state: Path) -> dict[str, tuple[str, int, int]]:
    return {name: (p["encoding"], p["width"], p["height"]) for name, p in json.loads(state.read_text())["profiles"].items()}


def test_a_media2_camera_lists_its_profiles_with_uris_codecs_and_keyframe_interval(device):
    port, _state = device("media2", H265_MAIN, SUB)
    camera = read_device("127.0.0.1", port, USER, PASSWORD)
    assert camera.manufacturer and camera.model and abs(camera.clock_offset) < 5 and camera.clock_note is None
    main, sub = camera.profiles
    assert (main.media, main.encoding, main.width, main.height, main.fps, main.gov_length) == ("media2", "H265", 1920, 1080, 20, 80)
    assert main.stream_uri == "rtsp://127.0.0.1:8554/cam2" and main.keyframe_interval == 4.0
    assert (sub.encoding, sub.width, sub.stream_uri, sub.keyframe_interval) == ("H264", 640, "rtsp://127.0.0.1:8554/cam1-sub", 4.0)


def test_a_media1_camera_whose_clock_is_an_hour_ahead_is_read_with_the_offset(device):
    port, _state = device("media1", MAIN, SUB, clock_offset=3600)
    camera = read_device("127.0.0.1", port, USER, PASSWORD)
    assert 3590 < camera.clock_offset < 3610 and "ahead" in camera.clock_note
    assert [(p.media, p.name, p.stream_uri, p.keyframe_interval) for p in camera.profiles] == [
        ("media", "main", "rtsp://127.0.0.1:8554/cam1", 4.0), ("media", "sub", "rtsp://127.0.0.1:8554/cam1-sub", 4.0)]  # fmt: skip


@pytest.mark.parametrize("brand", ["media2", "media1"])
def test_a_wrong_password_is_named_with_the_fix(device, brand):
    port, _state = device(brand, MAIN)
    with pytest.raises(OnvifError, match="refused the user name or password.*fix: give the camera's ONVIF user"):
        read_device("127.0.0.1", port, USER, "wrong")


def test_a_device_with_no_video_profile_says_so(device):
    port, _state = device("media2")
    with pytest.raises(OnvifError, match="has no media profile with video; fix: create one"):
        read_device("127.0.0.1", port, USER, PASSWORD)


def test_a_camera_that_stops_answering_mid_call_is_named_with_the_call(device):
    port, _state = device("media1", MAIN, stall="GetProfiles")
    with pytest.raises(OnvifError, match=r"stopped answering during GetProfiles \(3 s\)"):
        read_device("127.0.0.1", port, USER, PASSWORD, timeout=3)


def test_no_onvif_service_at_the_address_is_named_with_the_fix():
    with pytest.raises(OnvifError, match=r"no ONVIF service at 127.0.0.1:\d+ .*fix: check the address"):
        read_device("127.0.0.1", free_ports(1)[0], USER, PASSWORD, timeout=10)


@pytest.mark.parametrize("brand", ["media2", "media1"])
def test_tune_sets_the_gop_length_for_a_keyframe_every_second_and_reads_it_back(device, brand):
    port, state = device(brand, MAIN, SUB)
    dry = set_keyframe_interval("127.0.0.1", port, USER, PASSWORD, "main", 1, apply=False)
    assert (dry.profile.gov_length, dry.gov_length, dry.options.gov_range, dry.applied) == (100, 25, (1, 400), None)
    assert gov_lengths(state) == {"main": 100, "sub": 100}  # a dry run changes nothing
    done = set_keyframe_interval("127.0.0.1", port, USER, PASSWORD, "main", 1, apply=True)
    assert done.applied.gov_length == 25 and gov_lengths(state) == {"main": 25, "sub": 100}
    assert read_device("127.0.0.1", port, USER, PASSWORD).profiles[0].keyframe_interval == 1.0


def test_tune_outside_the_cameras_range_is_refused_before_any_change(device):
    port, state = device("media2", MAIN)
    with pytest.raises(OnvifError, match=r"GOP length of 2500, outside what the camera allows \(1-400\); fix: choose between 0.04 s and 16 s"):
        set_keyframe_interval("127.0.0.1", port, USER, PASSWORD, "main", 100, apply=True)
    assert gov_lengths(state) == {"main": 100}


def test_tune_of_an_unknown_profile_lists_the_cameras_profiles(device):
    port, _state = device("media1", MAIN, SUB)
    with pytest.raises(OnvifError, match=r"has no profile 'third'; its profiles: main \(.*\), sub \(.*\)"):
        set_keyframe_interval("127.0.0.1", port, USER, PASSWORD, "third", 1, apply=False)


def test_an_h265_main_profile_is_switched_to_h264_and_the_sub_to_a_smaller_picture(device):
    port, state = device("media2", H265_MAIN, SUB)
    dry = change_encoder("127.0.0.1", port, USER, PASSWORD, "main", apply=False, encoding="H264")
    assert dry.options.encodings == ("H264", "H265") and dry.after[0] == "H264" and encoders(state)["main"][0] == "H265"
    done = change_encoder("127.0.0.1", port, USER, PASSWORD, "main", apply=True, encoding="H264", keyframe_seconds=1)
    assert (done.applied.encoding, done.applied.gov_length) == ("H264", 20)
    smaller = change_encoder("127.0.0.1", port, USER, PASSWORD, "sub", apply=True, size=(384, 216))
    assert (smaller.applied.width, smaller.applied.height) == (384, 216)
    assert encoders(state) == {"main": ("H264", 1920, 1080), "sub": ("H264", 384, 216)}


def test_a_media1_camera_is_not_switched_to_h265(device):
    port, state = device("media1", MAIN)
    with pytest.raises(OnvifError, match=r"profile 'main' offers H264, not H265 \(it has no Media2 service.*fix: choose one of those"):
        change_encoder("127.0.0.1", port, USER, PASSWORD, "main", apply=True, encoding="H265")
    assert encoders(state) == {"main": ("H264", 1280, 720)}


def test_a_picture_size_the_camera_does_not_offer_is_refused_before_any_change(device):
    port, state = device("media2", H265_MAIN, SUB)
    with pytest.raises(OnvifError, match=r"offers 1920x1080, 1280x720, 640x360, 384x216 in H264, not 500x500; fix: choose one of those"):
        change_encoder("127.0.0.1", port, USER, PASSWORD, "sub", apply=True, size=(500, 500), keyframe_seconds=1)
    assert encoders(state)["sub"] == ("H264", 640, 360) and gov_lengths(state)["sub"] == 100


def measured(url: str):
    """What `camgate probe` would measure (its ffprobe command and analysis), run here; None if nothing."""
    command = ffprobe_command("tcp", 10, 5)
    out = subprocess.run(["bash", "-c", command], input=url + "\n", capture_output=True, text=True, timeout=60).stdout
    return analyse("cam", json.loads(out), 2) if out.strip() else None


def test_a_fake_camera_following_the_simulator_sends_what_was_set_over_onvif(device, tmp_path):
    rtsp_port = free_ports(1)[0]
    url = f"rtsp://127.0.0.1:{rtsp_port}/cam1"
    port, state = device("media2", f"main={url},H264,640x360,25,100")
    log = tmp_path / "camera.log"
    argv = [SYSTEM_PYTHON, str(FAKE_CAMERA_SCRIPT), "--address", "127.0.0.1", "--port", str(rtsp_port), "--mount", "/cam1",
            "--no-stamp", "--encoder-settings", str(state)]  # fmt: skip
    with open(log, "w") as out:
        camera = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_ready(camera, log, "cam1")
        before = measured(url)
        assert (before.video_codec, before.width, before.height) == ("h264", 640, 360) and 3.6 <= before.keyframe_interval <= 4.4
        change_encoder("127.0.0.1", port, USER, PASSWORD, "main", apply=True, keyframe_seconds=1, encoding="H265", size=(384, 216))
        deadline = time.monotonic() + 60  # the camera restarts its encoder: the first look may end early
        while (after := measured(url)) is None or (after.video_codec, after.width, after.height) != ("hevc", 384, 216) \
                or not 0.8 <= (after.keyframe_interval or 0) <= 1.2:
            assert time.monotonic() < deadline, f"the stream is {after}; {log.read_text()[-500:]}"
        assert "ENCODER /cam1 25 h265 384x216" in log.read_text()
    finally:
        terminate(camera.pid, grace=5)
        camera.wait()
