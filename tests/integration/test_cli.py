"""The site admin's commands against the testbed: verify (the packaged checks), status, probe
(including an unreachable camera and a wrong password), camera onvif (an ONVIF camera on the
gateway's network, read through an SSH tunnel)."""

import json
import re
import subprocess
import sys
import time

import pytest

from tests.integration.conftest import INVENTORY, ROOT
from tests.testbed.cameras import start_onvif_device
from tests.testbed.proc import free_ports, terminate


def camgate(deployer, *args: str, timeout: float = 120, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "camgate.cli", *args], cwd=ROOT, env=deployer.env,
        capture_output=True, text=True, timeout=timeout, input=input,
    )  # fmt: skip


@pytest.mark.every_release
def test_verify_passes_every_packaged_check_on_the_deployed_gateway(deployer, gateway):
    result = camgate(deployer, "verify", INVENTORY)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    for camera in gateway.enabled_cameras:
        assert f"camera {camera.id}: signed URL served, unsigned refused" in result.stdout
    assert "certificate valid for every name" in result.stdout and "firewall table loaded" in result.stdout
    assert result.stdout.strip().endswith(" 0 failed")


def test_verify_fails_and_names_the_check_when_a_camera_is_down(deployer, host):
    host.run_expect([0], "systemctl stop camgate-camera-cam2")
    try:
        result = camgate(deployer, "verify", INVENTORY)
        assert result.returncode == 1
        failed = [line for line in result.stdout.splitlines() if " FAIL " in line]
        assert any("camera cam2: unit running and enabled" in line for line in failed)
    finally:
        host.run_expect([0], "systemctl start camgate-camera-cam2")


@pytest.mark.every_release
def test_status_lists_every_camera_up(deployer, gateway):
    deadline = time.monotonic() + 30  # the camera the test before stopped is coming back
    while (result := camgate(deployer, "status", INVENTORY, "--json")).returncode != 0 and time.monotonic() < deadline:
        time.sleep(1)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)[deployer.gateway().host]["cameras"]
    assert set(report) == {c.id for c in gateway.enabled_cameras}
    assert all(camera["up"] for camera in report.values())


def test_probe_measures_cameras_and_saves_bitrates_for_plan(deployer, tmp_path):
    result = camgate(deployer, "probe", INVENTORY, "cam1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "h264" in result.stdout and "640x360" in result.stdout
    # a keyframe a second (the fake camera's live encoder drifts a little on a loaded machine)
    gop = re.search(r"every ([0-9.]+) s", result.stdout)
    assert gop and 0.9 <= float(gop[1]) <= 1.2, result.stdout
    assert "audio='copy' (already AAC: cheapest)" in result.stdout
    saved = json.loads((ROOT / "inventory" / "testbed.probe.json").read_text())
    assert saved[deployer.gateway().host]["cam1"]["bitrate_kbps"] > 100
    plan = camgate(deployer, "plan", INVENTORY)
    cam1 = next(line.split() for line in plan.stdout.splitlines() if line.split()[1:2] == ["cam1"])
    assert cam1[4] == "probe"  # GATEWAY CAMERA BITRATE(2 words) FROM ...
    (ROOT / "inventory" / "testbed.probe.json").unlink()


def test_probe_names_an_unreachable_camera_and_a_wrong_password(deployer, testbed, state):
    testbed.kill_camera("cam1")
    right = next(c["password"] for c in state["cameras"] if c["id"] == "cam3")
    testbed.start_camera("cam3", password="not-what-the-gateway-has")
    try:
        unreachable = camgate(deployer, "probe", INVENTORY, "cam1", "--no-save")
        assert unreachable.returncode == 1
        assert "problem: " in unreachable.stdout and "cam1: connection refused" in unreachable.stdout
        locked = camgate(deployer, "probe", INVENTORY, "cam3", "--no-save")
        assert locked.returncode == 1 and "cam3: authentication failed (401)" in locked.stdout
        assert right not in locked.stdout + locked.stderr
    finally:
        testbed.start_camera("cam1")
        testbed.start_camera("cam3", password=right)


def test_camera_onvif_reads_a_camera_on_the_gateways_network_through_an_ssh_tunnel(deployer, gateway, state, tmp_path):
    # The simulator listens where the testbed's cameras do; the command reaches it through the gateway
    # (an SSH tunnel), as it reaches a camera on a site's private network.
    address, port = state["host_address"], free_ports(1)[0]
    cam1 = next(c["url"] for c in state["cameras"] if c["id"] == "cam1")
    device = start_onvif_device(tmp_path, address, port, "media2", [f"main={cam1},H264,1280x720,25,100"], "admin", "onvif-pw")
    try:
        read = camgate(deployer, "camera", "onvif", INVENTORY, f"{address}:{port}", "--username", "admin", "--password-stdin",
                       input="onvif-pw\n")  # fmt: skip
        assert read.returncode == 0, read.stdout + read.stderr
        assert re.search(rf"^main\s+media2\s+H264\s+1280x720\s+25\s+every 4 s\s+.*{re.escape(cam1)}$", read.stdout, re.MULTILINE), read.stdout
        wrong = camgate(deployer, "camera", "onvif", INVENTORY, f"{address}:{port}", "--username", "admin", "--password-stdin",
                        input="wrong\n")  # fmt: skip
        assert wrong.returncode == 1 and f"{address}:{port} refused the user name or password" in wrong.stderr, wrong.stderr
    finally:
        terminate(device.pid, grace=5)
        device.wait()
