"""`camgate camera add --onvif`, `camera onvif SITE ID` and `camera tune` with the camera and the gateway
replaced (what the commands decide and write; tests/integration/test_onvif.py runs them for real)."""

from contextlib import contextmanager
from dataclasses import replace
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from camgate.cli import main
from camgate.cli import onvif as cli_onvif
from camgate.cli import site as cli_site
from camgate.onvif import Device, EncoderChange, EncoderOptions, Profile
from camgate.probe import ProbeResult

PASSWORD = "onvif-pw"


def profile(name: str, width: int, height: int, uri: str, gov: int = 100) -> Profile:
    return Profile(token=f"profile_{name}", name=name, encoding="H264", width=width, height=height, fps=25.0,
                   gov_length=gov, bitrate_kbps=4096 if width > 1000 else 512, stream_uri=uri, snapshot_uri=None,
                   encoder_token=f"vec_{name}", media="media2")  # fmt: skip


DEVICE = Device(address="127.0.0.1", manufacturer="Maker", model="M1", firmware="1.0", serial="S1", clock_offset=0.0,
                profiles=(profile("sub", 640, 360, "rtsp://192.168.1.20/102"), profile("main", 1920, 1080, "rtsp://192.168.1.20/101")))  # fmt: skip


@pytest.fixture()
def run(tmp_path, monkeypatch):
    """`camgate ...` in a folder holding site `mysite`, the camera answering DEVICE and no gateway:
    returns (invoke, calls), calls recording what reached the camera."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli_site, "_interactive", lambda: False)
    calls = []

    @contextmanager
    def no_gateway(entry, host, port, direct=False):
        yield object(), host, port

    def read_device(host, port, username, password, timeout, name):
        calls.append(("read", host, port, username, password))
        return DEVICE

    def change_encoder(host, port, username, password, token, apply, *, keyframe_seconds, encoding, size, timeout, name):
        calls.append(("set", token, keyframe_seconds, encoding, size, apply))
        old = next(p for p in DEVICE.profiles if p.token == token)
        gov = round(keyframe_seconds * old.fps) if keyframe_seconds else None
        change = EncoderChange(old, gov, encoding, size, EncoderOptions(("H264", "H265"), (1, 400), ()), None)
        after = replace(old, encoding=change.after[0], width=change.after[1][0], height=change.after[1][1], gov_length=change.after[2])
        return replace(change, applied=after) if apply else change

    monkeypatch.setattr(cli_onvif, "_camera_port", no_gateway)
    monkeypatch.setattr(cli_onvif, "read_device", read_device)
    monkeypatch.setattr(cli_onvif, "change_encoder", change_encoder)

    def invoke(*args, input=None):
        return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)

    made = invoke("init", "mysite", "--host", "203.0.113.10", "--domain", "cams.example.com", "--tls", "selfsigned", "--yes")
    assert made.exit_code == 0, made.output
    return invoke, calls


def test_add_onvif_takes_the_largest_profile_as_url_the_other_as_sub_url_and_keeps_the_address(run, tmp_path):
    invoke, calls = run
    added = invoke("camera", "add", "mysite", "gate", "--onvif", "192.168.1.20:8080", "--username", "admin", "--password-stdin",
                   input=PASSWORD)  # fmt: skip
    assert added.exit_code == 0, added.output
    assert calls == [("read", "192.168.1.20", 8080, "admin", PASSWORD)]
    text = (tmp_path / "inventory" / "mysite.toml").read_text()
    assert 'url = "rtsp://192.168.1.20/101"' in text and 'sub_url = "rtsp://192.168.1.20/102"' in text
    assert 'onvif = "192.168.1.20:8080"' in text and "bitrate_kbps = 4096" in text and PASSWORD not in text
    assert "advice: camgate camera tune mysite gate --keyframe 1s" in added.output


def test_add_onvif_on_port_80_keeps_the_address_alone_and_a_given_url_wins(run, tmp_path):
    invoke, _calls = run
    added = invoke("camera", "add", "mysite", "gate", "--onvif", "192.168.1.20", "--url", "rtsp://192.168.1.20/own",
                   "--username", "admin", "--password-stdin", input=PASSWORD)  # fmt: skip
    assert added.exit_code == 0, added.output
    text = (tmp_path / "inventory" / "mysite.toml").read_text()
    assert 'onvif = "192.168.1.20"' in text and 'url = "rtsp://192.168.1.20/own"' in text


def test_add_needs_a_url_or_an_onvif_address(run):
    invoke, calls = run
    result = invoke("camera", "add", "mysite", "gate")
    assert result.exit_code == 2 and "--url: is required; fix: pass --url rtsp://..., or --onvif ADDRESS" in result.output
    assert calls == []


def test_camera_onvif_by_id_reads_the_cameras_address_with_its_account(run):
    invoke, calls = run
    invoke("camera", "add", "mysite", "gate", "--onvif", "192.168.1.20:8080", "--username", "admin", "--password-stdin", input=PASSWORD)
    read = invoke("camera", "onvif", "mysite", "gate")
    assert read.exit_code == 0, read.output
    assert calls[-1] == ("read", "192.168.1.20", 8080, "admin", PASSWORD)
    assert "main     media2   H264   1920x1080" in read.output


def added_camera(invoke) -> None:
    result = invoke("camera", "add", "mysite", "gate", "--onvif", "192.168.1.20", "--username", "admin", "--password-stdin", input=PASSWORD)
    assert result.exit_code == 0, result.output


def test_tune_dry_run_works_out_main_and_sub_and_changes_nothing(run):
    invoke, calls = run
    added_camera(invoke)
    dry = invoke("camera", "tune", "mysite", "gate", "--keyframe", "1s", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert [c for c in calls if c[0] == "set"] == [("set", "profile_sub", 1.0, None, None, False), ("set", "profile_main", 1.0, None, None, False)]
    assert "gate main (main, H264 1920x1080 25 fps): keyframes every 4 s (GOP 100) -> every 1 s (GOP 25)" in dry.output
    assert "dry run: nothing changed on the camera" in dry.output


def test_tune_changes_nothing_when_the_gateway_cannot_check_the_stream(run, monkeypatch):
    invoke, calls = run
    added_camera(invoke)
    monkeypatch.setattr(cli_onvif.remote, "run", lambda client, command, **_: (1, "", ""))  # no ffprobe there
    result = invoke("camera", "tune", "mysite", "gate", "--keyframe", "1s")
    assert result.exit_code == 1 and "has no ffprobe to check the stream after the change, so nothing was changed" in result.output
    assert [c for c in calls if c[0] == "set"] == []


def test_tune_names_a_profile_the_camera_does_not_have(run):
    invoke, _calls = run
    added_camera(invoke)
    result = invoke("camera", "tune", "mysite", "gate", "--keyframe", "1s", "--profile", "third")
    assert result.exit_code == 2 and "--profile: the camera has no profile 'third'; fix: use one of sub (profile_sub), main (profile_main)" in result.output


def test_tune_sends_the_codec_to_every_profile_and_the_size_to_the_sub_only(run):
    invoke, calls = run
    added_camera(invoke)
    dry = invoke("camera", "tune", "mysite", "gate", "--codec", "H264", "--sub-size", "384x216", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert [c for c in calls if c[0] == "set"] == [("set", "profile_sub", None, "H264", (384, 216), False),
                                                   ("set", "profile_main", None, "H264", None, False)]  # fmt: skip
    assert "gate sub (sub, H264 640x360 25 fps): video H264 -> H264; picture 640x360 -> 384x216 (dry run)" in dry.output


def test_tune_needs_something_to_change_and_a_size_it_can_read(run):
    invoke, calls = run
    added_camera(invoke)
    nothing = invoke("camera", "tune", "mysite", "gate")
    assert nothing.exit_code == 2 and "--keyframe, --codec or --sub-size: give at least one" in nothing.output
    bad = invoke("camera", "tune", "mysite", "gate", "--sub-size", "big")
    assert bad.exit_code == 2 and "--sub-size: 'big' is not a picture size; fix: give WIDTHxHEIGHT" in bad.output
    assert [c for c in calls if c[0] == "set"] == []


def test_tune_checks_each_stream_from_the_gateway_and_suggests_webrtc_once_it_is_h264(run, monkeypatch):
    invoke, calls = run
    added_camera(invoke)
    monkeypatch.setattr(cli_onvif.remote, "run", lambda client, command, **_: (0, "/usr/bin/ffprobe\n", ""))
    probed = []

    def probe_camera(client, gateway, camera):
        probed.append(camera.url)
        size = (1920, 1080) if camera.url.endswith("/101") else (640, 360)
        return ProbeResult(camera.id, ok=True, video_codec="h264", width=size[0], height=size[1], keyframe_interval=1.04)

    monkeypatch.setattr(cli_onvif, "probe_camera", probe_camera)
    result = invoke("camera", "tune", "mysite", "gate", "--keyframe", "1s", "--codec", "h264")
    assert result.exit_code == 0, result.output
    assert sorted(probed) == ["rtsp://192.168.1.20/101", "rtsp://192.168.1.20/102"]
    assert "gate main: measured from the gateway: a keyframe every 1.04 s, h264 1920x1080" in result.output
    assert 'note: camera gate now sends H.264, which WebRTC carries: webrtc = "main"' in result.output


def test_tune_fails_naming_the_causes_when_the_stream_does_not_follow(run, monkeypatch):
    invoke, _calls = run
    added_camera(invoke)
    monkeypatch.setattr(cli_onvif.remote, "run", lambda client, command, **_: (0, "/usr/bin/ffprobe\n", ""))
    monkeypatch.setattr(cli_onvif, "probe_camera", lambda client, gateway, camera: ProbeResult(camera.id, ok=True, video_codec="h264",
                                                                                               keyframe_interval=4.0))  # fmt: skip
    clock = iter(range(0, 10_000, 2))  # each reading 2 s later: the settle time passes without waiting
    monkeypatch.setattr(cli_onvif, "time", SimpleNamespace(monotonic=lambda: next(clock), sleep=lambda seconds: None))
    result = invoke("camera", "tune", "mysite", "gate", "--keyframe", "1s", "--settle", "10")
    assert result.exit_code == 1
    assert "the camera took the new settings but its stream still does not show them after 10 s" in result.output
