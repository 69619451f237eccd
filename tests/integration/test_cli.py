"""The site admin's commands against the testbed: verify (the packaged checks), status, probe
(including an unreachable camera and a wrong password). ONVIF: test_onvif.py."""

import json
import re
import subprocess
import sys
import time

import pytest

from tests.integration.conftest import INVENTORY, ROOT


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
