"""ONVIF onboarding against the testbed: a simulated ONVIF camera (tests/testbed/onvif_device.py) in
front of the fake cameras, on the gateway's network, reached through an SSH tunnel to the gateway —
read (camera onvif), added to a site (camera add --onvif) and tuned (camera tune), where the fake
camera's RTSP stream really follows the GOP length set over ONVIF."""

import json
import re
import time
from pathlib import Path

import pytest

from tests.integration.conftest import INVENTORY
from tests.integration.test_cli import camgate
from tests.testbed.cameras import onvif_state_file, start_onvif_device
from tests.testbed.proc import free_ports, terminate

USER, PASSWORD = "admin", "onvif-pw:/@x"


@pytest.fixture
def onvif_device(state, tmp_path):
    """start(brand, *profiles, username=USER, password=PASSWORD) -> "address:port" of a simulator on
    the testbed's camera network; stopped afterwards."""
    started = []

    def start(brand: str, *profiles: str, username: str = USER, password: str = PASSWORD) -> str:
        address, port = state["host_address"], free_ports(1)[0]
        started.append(start_onvif_device(tmp_path, address, port, brand, list(profiles), username, password))
        return f"{address}:{port}"

    yield start
    for proc in started:
        terminate(proc.pid, grace=5)
        proc.wait()


def gov_lengths(state_file: Path) -> dict[str, int]:
    return {name: p["gov_length"] for name, p in json.loads(state_file.read_text())["profiles"].items()}


def test_camera_onvif_reads_a_camera_on_the_gateways_network_through_an_ssh_tunnel(deployer, gateway, state, onvif_device):
    cam1 = next(c["url"] for c in state["cameras"] if c["id"] == "cam1")
    address = onvif_device("media2", f"main={cam1},H264,1280x720,25,100")
    read = camgate(deployer, "camera", "onvif", INVENTORY, address, "--username", USER, "--password-stdin", input=PASSWORD)
    assert read.returncode == 0, read.stdout + read.stderr
    assert re.search(rf"^main\s+media2\s+H264\s+1280x720\s+25\s+every 4 s\s+.*{re.escape(cam1)}$", read.stdout, re.MULTILINE), read.stdout
    wrong = camgate(deployer, "camera", "onvif", INVENTORY, address, "--username", USER, "--password-stdin", input="wrong\n")
    assert wrong.returncode == 1 and f"{address} refused the user name or password" in wrong.stderr, wrong.stderr


def new_site(deployer, state, folder: Path) -> Path:
    """A site made by `camgate init` for the testbed's gateway, its SSH key and pinned host key filled in."""
    made = camgate(deployer, "init", "lab", "--host", state["target_address"], "--ssh-user", state["ssh_user"],
                   "--tls", "selfsigned", "--yes", "--dir", str(folder))  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    toml = folder / "lab.toml"
    text = toml.read_text()
    text = text.replace('# ssh_key = "~/.ssh/id_ed25519"', f'ssh_key = "{state["ssh_key"]}"')
    text = text.replace('# ssh_known_hosts_file = "~/.ssh/known_hosts"', f'ssh_known_hosts_file = "{state["known_hosts"]}"')
    toml.write_text(text)
    return folder / "lab.py"


def test_camera_add_onvif_fills_main_and_sub_urls_and_keeps_the_password_secret(deployer, state, onvif_device, tmp_path):
    cam1, cam2 = (next(c["url"] for c in state["cameras"] if c["id"] == i) for i in ("cam1", "cam2"))
    # Listed sub first, as some cameras do: the larger picture is still the main stream.
    address = onvif_device("media1", f"sub={cam2},H264,640x360,25,50", f"main={cam1},H264,1920x1080,25,100")
    site = new_site(deployer, state, tmp_path / "inventory")
    before = site.with_suffix(".toml").read_text()

    wrong = camgate(deployer, "camera", "add", str(site), "gate", "--onvif", address, "--username", USER,
                    "--password-stdin", input="wrong\n")  # fmt: skip
    assert wrong.returncode == 1 and "refused the user name or password" in wrong.stderr, wrong.stdout + wrong.stderr
    assert site.with_suffix(".toml").read_text() == before  # nothing written

    added = camgate(deployer, "camera", "add", str(site), "gate", "--onvif", address, "--username", USER,
                    "--password-stdin", input=PASSWORD)  # fmt: skip
    assert added.returncode == 0, added.stdout + added.stderr
    assert f"main: profile main (H264 1920x1080, a keyframe every 4 s): {cam1}" in added.stdout
    assert "expected live latency in a standard player: about 13 s" in added.stdout
    assert f"advice: camgate camera tune {site} gate --keyframe 1s" in added.stdout
    text = site.with_suffix(".toml").read_text()
    assert f'url = "{cam1}"' in text and f'sub_url = "{cam2}"' in text and f'onvif = "{address}"' in text
    assert PASSWORD not in text + added.stdout + added.stderr
    assert PASSWORD in (tmp_path / "inventory" / "lab.secrets.toml").read_text()
    assert camgate(deployer, "validate", str(site)).returncode == 0


def test_camera_add_onvif_refuses_a_camera_with_no_video_profile_and_writes_nothing(deployer, state, onvif_device, tmp_path):
    address = onvif_device("media2")  # a device with no video profile at all
    site = new_site(deployer, state, tmp_path / "inventory")
    added = camgate(deployer, "camera", "add", str(site), "gate", "--onvif", address, "--username", USER, "--password-stdin",
                    input=PASSWORD)  # fmt: skip
    assert added.returncode == 1 and "has no media profile with video; fix: create one" in added.stderr, added.stderr
    assert 'id = "gate"' not in site.with_suffix(".toml").read_text()


def live_segment_durations(host, camera_id: str) -> list[float]:
    playlist = host.file(f"/run/camgate/hls/{camera_id}/stream.m3u8")
    return [float(d) for d in re.findall(r"#EXTINF:([0-9.]+)", playlist.content_string)] if playlist.exists else []


def test_tune_sets_a_keyframe_every_second_and_h264_and_the_gateways_stream_follows(deployer, testbed, state, host, onvif_device, tmp_path):
    # cam3 asks for a password; the simulator has the same account, as a camera's ONVIF and RTSP do.
    # It starts as many cameras ship: H.265 with a keyframe every 4 s, which the fake camera follows.
    cam3 = next(c for c in state["cameras"] if c["id"] == "cam3")
    address = onvif_device("media2", f"main={cam3['url']},H265,640x360,25,100", username=cam3["username"], password=cam3["password"])
    settings = onvif_state_file(tmp_path, int(address.rsplit(":", 1)[1]))
    testbed.start_camera("cam3", encoder_settings=settings)
    try:
        deadline = time.monotonic() + 120  # the gateway reconnects, then cuts 4 s segments
        while not (durations := live_segment_durations(host, "cam3")[-2:]) or min(durations) < 3.5:
            assert time.monotonic() < deadline, f"cam3's live segments: {durations}"
            time.sleep(2)

        dry = camgate(deployer, "camera", "tune", INVENTORY, "cam3", "--onvif", address, "--keyframe", "1s", "--dry-run")
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert "keyframes every 4 s (GOP 100) -> every 1 s (GOP 25); live latency about 13 s -> about 4 s (dry run)" in dry.stdout
        assert "dry run: nothing changed on the camera" in dry.stdout and gov_lengths(settings) == {"main": 100}

        refused = camgate(deployer, "camera", "tune", INVENTORY, "cam3", "--onvif", address, "--keyframe", "30s")
        assert refused.returncode == 1 and "outside what the camera allows (1-400); fix: choose between 0.04 s and 16 s" in refused.stderr
        no_sub = camgate(deployer, "camera", "tune", INVENTORY, "cam3", "--onvif", address, "--sub-size", "384x216")
        assert no_sub.returncode == 2 and "--sub-size: camera cam3 has no sub stream in the site" in no_sub.stderr
        assert gov_lengths(settings) == {"main": 100}

        tuned = camgate(deployer, "camera", "tune", INVENTORY, "cam3", "--onvif", address, "--keyframe", "1s", "--codec", "h264",
                        timeout=400)  # fmt: skip
        assert tuned.returncode == 0, tuned.stdout + tuned.stderr
        assert "cam3 main (main, H265 640x360 25 fps): keyframes every 4 s (GOP 100) -> every 1 s (GOP 25)" in tuned.stdout
        assert "; video H265 -> H264" in tuned.stdout and "cam3 main: the camera reads back GOP 25, H264 640x360" in tuned.stdout
        measured = re.search(r"cam3 main: measured from the gateway: a keyframe every ([0-9.]+) s, h264 640x360", tuned.stdout)
        assert measured and 0.8 <= float(measured[1]) <= 1.2, tuned.stdout
        assert json.loads(settings.read_text())["profiles"]["main"]["encoding"] == "H264"
        deadline = time.monotonic() + 120  # and the gateway's live HLS is cut every second again
        while not (durations := live_segment_durations(host, "cam3")[-3:]) or max(durations) > 1.5:
            assert time.monotonic() < deadline, f"cam3's live segments: {durations}"
            time.sleep(2)
    finally:
        testbed.start_camera("cam3")


def test_tune_names_the_fix_for_a_camera_with_no_onvif_address(deployer):
    result = camgate(deployer, "camera", "tune", INVENTORY, "cam1", "--keyframe", "1s")
    assert result.returncode == 2
    assert "--onvif: camera cam1 has no onvif address; fix: pass --onvif ADDRESS[:PORT]" in result.stderr
