"""Safe changes: a configuration nginx rejects never replaces the working site; a deploy killed half
way converges when run again; one pyinfra run deploys two gateways, each with only its own cameras."""

import base64
import json
import os
import signal
import subprocess
import time

import pytest
import testinfra

from camgate.testbed import Testbed
from tests.conftest import phase
from tests.integration.conftest import ROOT, grand_total

SECOND_STATE_DIR = ROOT / ".testbed-test-2"
SECOND_INDEX = 8
BROKEN = "/etc/nginx/conf.d/zz-broken-by-a-test.conf"


def manifest_ttl(gateway, client, state) -> int:
    password = state["app_users"]["alice"]["password"]
    header = {"Authorization": "Basic " + base64.b64encode(f"alice:{password}".encode()).decode()}
    body = json.loads(client.fetch(f"{gateway.base_url}/api/cameras", headers=header).body)
    return round(body["expires"] - time.time())


def test_a_configuration_nginx_rejects_fails_the_deploy_and_the_site_keeps_serving(host, deployer, gateway, client, signed, state):
    host.run_expect([0], f"echo 'this is not nginx;' > {BROKEN}")
    site = host.file("/etc/nginx/conf.d/camgate.conf").content_string
    try:
        with phase("deploy into a broken nginx"):
            failed = deployer.run(check=False, url_ttl=1800)
        assert failed.returncode != 0
        assert "nginx rejected the new configuration" in failed.stdout + failed.stderr
        assert host.file("/etc/nginx/conf.d/camgate.conf").content_string == site  # rolled back on disk
        assert host.service("nginx").is_running
        assert client.fetch(signed("cam1")).status == 200
        assert abs(manifest_ttl(gateway, client, state) - 3600) < 30  # still the old settings
    finally:
        host.run(f"rm -f {BROKEN}")
    deployer.run(url_ttl=1800)
    assert abs(manifest_ttl(gateway, client, state) - 1800) < 30


def test_a_deploy_killed_half_way_converges_when_run_again(deployer, host, gateway, client, state):
    deployer.env["CAMGATE_TESTBED_URL_TTL"] = "3600"
    host.run_expect([0], "systemctl stop nginx camgate-camera-cam2 && rm -f /etc/camgate/credentials/cam2.url")
    proc = subprocess.Popen(
        deployer.argv(), cwd=ROOT, env=deployer.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    time.sleep(3)  # facts gathered, some operations done
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    with phase("deploy again after a killed one"):
        deployer.run()
    again = deployer.run()
    total = grand_total(again.stdout + again.stderr)
    assert total["success"] == "-" and total["error"] == "-"
    assert host.service("nginx").is_running and host.service("camgate-camera-cam2").is_running
    assert host.file("/etc/camgate/credentials/cam2.url").mode == 0o600
    assert abs(manifest_ttl(gateway, client, state) - 3600) < 30


@pytest.fixture(scope="module")
def second_testbed():
    bed = Testbed(state_dir=SECOND_STATE_DIR, index=SECOND_INDEX, cameras=1, auth_cameras=())
    try:
        with phase("second testbed up"):
            bed.up()
        yield bed
    finally:
        bed.down()


def test_one_run_deploys_two_gateways_each_with_only_its_own_cameras(second_testbed, deployer, host, state):
    first_dir = deployer.env["CAMGATE_TESTBED_DIR"]
    second = json.loads((SECOND_STATE_DIR / "state.json").read_text())
    try:
        with phase("one run, two gateways (second one bare)"):
            result = deployer.run(testbeds=[first_dir, str(SECOND_STATE_DIR)])
        output = result.stdout + result.stderr
        assert state["name"] in output and second["name"] in output
        other = testinfra.get_host(f"ssh://{second['ssh_alias']}", ssh_config=second["ssh_config"])
        units = other.check_output("ls /etc/systemd/system | grep '^camgate-camera-' || true").split()
        assert units == ["camgate-camera-cam1.service"]
        assert second["host_address"] in other.file("/etc/camgate/credentials/cam1.url").content_string
        assert other.service("camgate-camera-cam1").is_running and other.service("nginx").is_running
        deadline = time.monotonic() + 30
        while not other.file("/run/camgate/hls/cam1/stream.m3u8").exists and time.monotonic() < deadline:
            time.sleep(1)
        assert other.file("/run/camgate/hls/cam1/stream.m3u8").contains("#EXTINF")
        mine = host.check_output("ls /etc/systemd/system | grep '^camgate-camera-'").split()
        assert mine == ["camgate-camera-cam1.service", "camgate-camera-cam2.service", "camgate-camera-cam3.service"]
        assert state["host_address"] in host.file("/etc/camgate/credentials/cam1.url").content_string
    finally:
        deployer.run(testbeds=[first_dir])
