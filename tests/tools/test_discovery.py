"""The gateway's WS-Discovery script (camgate/gateway/discovery.py), run as `camgate camera discover`
runs it (`python3 -c <source>`, the JSON request on stdin), with real multicast between two network
namespaces this test creates: the gateway's, holding the probe (and, where a test loads it, the
gateway's real nftables ruleset), and the cameras', holding ONVIF device simulators
(tests/testbed/onvif_device.py) that answer WS-Discovery. The gateway has two links to the cameras'
namespace, as a gateway with cameras on a second NIC has. Nothing leaves these namespaces."""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from camgate import paths
from camgate.firewall import render_ruleset, ruleset_for
from camgate.gateway import discovery
from camgate.model import parse_gateway
from tests.testbed.cameras import start_onvif_device
from tests.testbed.proc import terminate

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("nft"),
    reason="needs root, ip and nft (network namespaces of its own)",
)

SCRIPT = Path(discovery.__file__).read_text()
TAG = f"cgd{os.getpid() % 100000}"
GATEWAY_NS, CAMERAS_NS = f"{TAG}g", f"{TAG}c"
# Two links, as a gateway's two NICs: its default route goes out of the first; a private range no
# testbed (10.231.*) or VM (192.168.56.0/24) of this machine uses, and only inside the namespaces.
LINKS = (("a", "10.254.37"), ("b", "10.254.38"))
FIRST, SECOND = (f"{prefix}.1" for _, prefix in LINKS)
CLONE_NEWNET = 0x40000000


def ip(*args: str, namespace: str | None = None) -> None:
    argv = ["ip", *(["-n", namespace] if namespace else []), *args]
    subprocess.run(argv, check=True, capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def network():
    """The two namespaces and two veth links; everything removed afterwards, whatever happened."""
    try:
        for namespace in (GATEWAY_NS, CAMERAS_NS):
            ip("netns", "add", namespace)
            ip("link", "set", "lo", "up", namespace=namespace)
        for name, prefix in LINKS:
            ip("link", "add", f"{TAG}{name}g", "netns", GATEWAY_NS, "type", "veth", "peer", f"{TAG}{name}c", "netns", CAMERAS_NS)
            ip("addr", "add", f"{prefix}.1/24", "dev", f"{TAG}{name}g", namespace=GATEWAY_NS)
            ip("link", "set", f"{TAG}{name}g", "up", namespace=GATEWAY_NS)
            ip("link", "set", f"{TAG}{name}c", "up", namespace=CAMERAS_NS)
        ip("route", "add", "default", "via", f"{LINKS[0][1]}.2", namespace=GATEWAY_NS)
        yield
    finally:
        for namespace in (GATEWAY_NS, CAMERAS_NS):  # deleting a namespace deletes its links
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=30)


@contextmanager
def in_namespace(name: str):
    """This thread in network namespace `name` (the processes it starts are born there); back after."""
    libc = ctypes.CDLL(None, use_errno=True)
    with open("/proc/thread-self/ns/net") as home, open(f"/run/netns/{name}") as there:
        if libc.setns(there.fileno(), CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns to {name}")
        try:
            yield
        finally:
            if libc.setns(home.fileno(), CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back to this test's namespace")


@pytest.fixture
def devices(network, tmp_path):
    """start(address, kind="onvif") -> the simulator's log; the address is added to its link in the
    cameras' namespace. Stopped, and the addresses removed, afterwards."""
    started, addresses = [], []

    def start(address: str, kind: str = "onvif", brand: str = "media2") -> Path:
        link = next(f"{TAG}{name}c" for name, prefix in LINKS if address.startswith(f"{prefix}."))
        ip("addr", "add", f"{address}/24", "dev", link, namespace=CAMERAS_NS)
        addresses.append((address, link))
        port = 8000 + int(address.rsplit(".", 1)[1]) + 100 * len(started)
        with in_namespace(CAMERAS_NS):
            started.append(start_onvif_device(tmp_path, address, port, brand, [f"main=rtsp://{address}:8554/cam,H264,1280x720,25,50"],
                                              "admin", "pw", lifetime=300, discovery=kind))  # fmt: skip
        return tmp_path / f"onvif-{port}.log"

    yield start
    for proc in started:
        terminate(proc.pid, grace=5)
        proc.wait()
    for address, link in addresses:
        subprocess.run(["ip", "-n", CAMERAS_NS, "addr", "del", f"{address}/24", "dev", link], capture_output=True, timeout=30)


@pytest.fixture
def gateway_firewall(network):
    """camgate's real ruleset (input policy drop, established accepted) in the gateway's namespace."""
    site = parse_gateway("gw1", {"domain": "cams.example.com", "acme_email": "ops@example.com"})
    ruleset = render_ruleset(ruleset_for(site, 22, "10.254.37.2"))
    subprocess.run(["ip", "netns", "exec", GATEWAY_NS, "nft", "-f", "-"], input=ruleset, check=True, capture_output=True, text=True, timeout=30)
    yield
    subprocess.run(["ip", "netns", "exec", GATEWAY_NS, "nft", "delete", "table", "inet", paths.FIREWALL_TABLE], capture_output=True, timeout=30)


def probe(wait: float = 1.5, **request) -> dict:
    """The script's report, run in the gateway's namespace as SSH runs it there."""
    result = run_script({"wait": wait, "to": None, "interfaces": None, "table": paths.FIREWALL_TABLE, **request})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def run_script(request: dict | str) -> subprocess.CompletedProcess:
    text = request if isinstance(request, str) else json.dumps(request)
    return subprocess.run(["ip", "netns", "exec", GATEWAY_NS, "python3", "-c", SCRIPT], input=text,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def input_chain() -> str:
    result = subprocess.run(["ip", "netns", "exec", GATEWAY_NS, "nft", "-a", "list", "chain", "inet", paths.FIREWALL_TABLE, "input"],
                            capture_output=True, text=True, check=True, timeout=30)  # fmt: skip
    return result.stdout


def dropped_by_policy() -> int:
    match = re.search(r"counter packets (\d+) bytes \d+ comment \"dropped by policy\"", input_chain())
    assert match, input_chain()
    return int(match.group(1))


def test_an_onvif_camera_answers_with_its_scopes_and_device_service_and_the_link_it_is_on(devices):
    devices("10.254.37.11")
    report = probe()
    assert [(d["address"], d["local"]) for d in report["devices"]] == [("10.254.37.11", FIRST)], report
    camera = report["devices"][0]
    assert camera["xaddrs"] == ["http://10.254.37.11:8011/onvif/device_service"]
    assert "onvif://www.onvif.org/name/Simulated%20Vendor%20A%20SIM-M2-4MP" in camera["scopes"]
    assert "onvif://www.onvif.org/hardware/SIM-M2-4MP" in camera["scopes"]
    assert camera["endpoint"].startswith("urn:uuid:") and "dn:NetworkVideoTransmitter" in camera["types"]
    assert report["skipped"] == [] and report["notes"] == [] and report["interfaces"] == [FIRST, SECOND]


def test_two_cameras_are_each_listed_once_though_the_probe_is_sent_three_times(devices):
    logs = [devices("10.254.37.11"), devices("10.254.37.12", brand="media1")]
    report = probe()
    assert sorted(d["address"] for d in report["devices"]) == ["10.254.37.11", "10.254.37.12"], report
    assert len({d["endpoint"] for d in report["devices"]}) == 2
    # Each camera saw the probe (and answered) three times: SOAP-over-UDP's repeats.
    assert all(log.read_text().count("ProbeMatches onvif") == 3 for log in logs), [log.read_text() for log in logs]


def test_a_camera_on_the_gateways_second_link_is_found_from_that_links_address(devices):
    devices("10.254.38.21")
    assert [(d["address"], d["local"]) for d in probe()["devices"]] == [("10.254.38.21", SECOND)]
    # The positive control: probed from the first link only (the default route), it is not seen.
    assert probe(interfaces=[FIRST])["devices"] == []


def test_a_printer_and_a_malformed_answer_are_skipped_with_a_note_and_the_camera_still_found(devices):
    devices("10.254.37.11")
    devices("10.254.37.13", kind="printer")
    devices("10.254.37.14", kind="malformed")
    report = probe()
    assert [d["address"] for d in report["devices"]] == ["10.254.37.11"], report
    reasons = {s["address"]: s["reason"] for s in report["skipped"]}
    assert len(report["skipped"]) == 2, report["skipped"]  # once each, though each answered three times
    assert reasons["10.254.37.13"].startswith("not an ONVIF device: types wsdp:Device wprt:PrintDeviceType")
    assert reasons["10.254.37.14"].startswith("malformed XML: ")


def test_with_nothing_answering_the_list_is_empty_within_the_wait(network):
    started = time.monotonic()
    report = probe(wait=2)
    assert report["devices"] == [] and report["skipped"] == []
    assert time.monotonic() - started < 2 + 3  # the wait, plus starting python3 under ip netns exec


def test_through_the_gateways_firewall_the_camera_is_found_and_the_temporary_rule_is_gone_after(devices, gateway_firewall):
    devices("10.254.37.11")
    report = probe()
    assert [d["address"] for d in report["devices"]] == ["10.254.37.11"], report
    assert report["notes"] == []
    assert discovery.RULE_COMMENT not in input_chain()


def test_without_the_temporary_rule_the_firewall_drops_the_answers(devices, gateway_firewall):
    """The positive control of the test above: the firewall problem is real."""
    devices("10.254.37.11")
    before = dropped_by_policy()
    report = probe(open_firewall=False)
    assert report["devices"] == [], report
    assert dropped_by_policy() - before >= 3  # the camera's three answers


def test_a_bad_request_exits_2_naming_the_field_and_what_it_must_be(network):
    result = run_script({"wait": 300})
    assert result.returncode == 2 and "wait: 300 must be a number of seconds, more than 0 and at most 30" in result.stderr
    result = run_script({"interfaces": ["eth0"]})
    assert result.returncode == 2 and "interfaces: ['eth0'] must be a list of the gateway's IPv4 addresses" in result.stderr
    assert run_script("not json").returncode == 2
