"""`camgate camera discover` against the testbed gateway: the WS-Discovery probe runs on the gateway
(over SSH), goes out of its link to the testbed host, where ONVIF device simulators answer (where
the fake cameras live), and the answers come back in through the gateway's real firewall."""

from __future__ import annotations

import re
import subprocess
from urllib.parse import urlsplit

import pytest

from camgate import paths
from camgate.gateway.discovery import RULE_COMMENT
from tests.integration.conftest import INVENTORY
from tests.integration.test_cli import camgate
from tests.testbed.cameras import start_onvif_device
from tests.testbed.layout import Layout
from tests.testbed.proc import free_ports, terminate


@pytest.fixture
def extra_addresses(testbed, state):
    """Two more addresses on the testbed host's side of the gateway's link (the gateway reaches them
    through its default route, the host): devices that are not the site's cameras. Removed afterwards."""
    layout: Layout = testbed.layout
    prefix = state["host_address"].rsplit(".", 1)[0]
    addresses = [f"{prefix}.201", f"{prefix}.202"]
    added = []
    try:
        for address in addresses:
            subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", layout.veth_host], check=True, capture_output=True, timeout=30)
            added.append(address)
        yield addresses
    finally:
        for address in added:
            subprocess.run(["ip", "addr", "del", f"{address}/32", "dev", layout.veth_host], capture_output=True, timeout=30)


@pytest.fixture
def simulators(tmp_path):
    """start(address, kind) -> HTTP port of a simulator answering WS-Discovery there; stopped afterwards."""
    started = []

    def start(address: str, kind: str) -> int:
        port = free_ports(1)[0]
        started.append(start_onvif_device(tmp_path, address, port, "media2", [f"main=rtsp://{address}:8554/x,H264,1280x720,25,50"],
                                          "admin", "onvif-pw", lifetime=300, discovery=kind))  # fmt: skip
        return port

    yield start
    for proc in started:
        terminate(proc.pid, grace=5)
        proc.wait()


def row(output: str, address: str) -> list[str] | None:
    """The table row of `address` split on runs of 2+ spaces, None if it is not listed."""
    for line in output.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if cells[0] == address:
            return cells
    return None


def test_discover_lists_the_sites_camera_and_a_new_one_and_notes_a_printer(deployer, gateway, state, host, extra_addresses, simulators):
    home, new, printer = state["host_address"], *extra_addresses
    in_site = simulators(home, "onvif")
    not_in_site = simulators(new, "onvif")
    simulators(printer, "printer")
    result = camgate(deployer, "camera", "discover", INVENTORY, "--wait", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    print(result.stdout)  # the transcript docs/onboarding.md shows
    # The inventory as it is now (an earlier test of the suite may have changed its cameras).
    first_camera_there = next((c.id for c in deployer.gateway().cameras if urlsplit(c.url).hostname == home), "-")
    target = state["target_address"]
    assert row(result.stdout, home) == [home, target, "Simulated Vendor A SIM-M2-4MP",
                                        f"http://{home}:{in_site}/onvif/device_service", first_camera_there], result.stdout  # fmt: skip
    assert row(result.stdout, new) == [new, target, "Simulated Vendor A SIM-M2-4MP",
                                       f"http://{new}:{not_in_site}/onvif/device_service", "-"], result.stdout  # fmt: skip
    assert row(result.stdout, printer) is None
    assert re.search(rf"^note: {re.escape(printer)} \(on {re.escape(target)}\) skipped: not an ONVIF device: types wsdp:Device"
                     r" wprt:PrintDeviceType .*fix: if it is a camera, turn ONVIF on", result.stdout, re.MULTILINE), result.stdout  # fmt: skip
    assert f"next: camgate camera onvif {INVENTORY} {new}:{not_in_site} --username admin --password-prompt" in result.stdout
    # The answers came in through the gateway's firewall, and the rule that let them in is gone.
    assert host.run(f"nft list chain inet {paths.FIREWALL_TABLE} input").rc == 0
    assert RULE_COMMENT not in host.check_output(f"nft list chain inet {paths.FIREWALL_TABLE} input")


def test_discover_with_nothing_answering_exits_0_and_names_the_likely_causes(deployer, gateway):
    result = camgate(deployer, "camera", "discover", INVENTORY, "--wait", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No ONVIF device answered" in result.stdout
    assert "multicast does not cross routers" in result.stdout and "ONVIF or discovery is off" in result.stdout
