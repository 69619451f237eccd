"""The host firewall on the testbed: only SSH, HTTP and HTTPS get in; a deploy never locks itself out;
other tables are left alone; firewall=False takes everything of ours away again."""

import re
import socket
import subprocess

import pytest

from camgate.paths import FIREWALL_RULESET as RULESET, FIREWALL_SERVICE as UNIT, FIREWALL_TABLE as TABLE
from tests.testbed.proc import connects, wait_until
from tests.conftest import phase
from tests.integration.conftest import Deployer

pytestmark = pytest.mark.every_release  # part of the subset every tested release runs (conftest.EVERY_RELEASE)

PROBE_UNIT = "camgate-fw-probe"
PROBE_PORT = 8099
# A table of "somebody else" (another tool, the admin): a deploy must never remove or change it.
SENTINEL = "ip camgate_fw_sentinel"
# RFC 5737 documentation network: only ever written into the rules, never sent any traffic.
DOC_NETWORK = "192.0.2.0/24"


def fresh_ssh(state) -> subprocess.CompletedProcess:
    """A new SSH connection (never a multiplexed one, which would ride on an established flow)."""
    return subprocess.run(
        ["ssh", "-F", state["ssh_config"], "-o", "ControlMaster=no", "-o", "ControlPath=none",
         "-o", "ConnectTimeout=5", state["ssh_alias"], "true"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip


def tables(host) -> set[str]:
    return {line.strip() for line in host.check_output("nft list tables").splitlines() if line.strip()}


def ssh_open_to_all(ruleset: str, state) -> bool:
    return bool(re.search(rf"^\s*tcp dport {state.get('ssh_port', 22)} accept$", ruleset, re.MULTILINE))


def firewall_rows(output: str) -> dict[str, str]:
    """pyinfra's result rows of the firewall role: operation -> its Success column."""
    rows = re.findall(r"camgate firewall \| (.+?)\s{2,}\S+\s+(\S+)\s+\S+\s+\S+\s*$", output, re.MULTILINE)
    assert rows, f"no firewall operations in:\n{output}"
    return dict(rows)


def test_a_port_opened_inside_the_host_is_unreachable_from_outside_while_443_answers(host, state, gateway):
    address = state["target_address"]
    host.run_expect([0], f"systemd-run --unit {PROBE_UNIT} python3 -m http.server --bind 0.0.0.0 {PROBE_PORT}")
    try:
        inside = f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 2 http://127.0.0.1:{PROBE_PORT}/"
        assert wait_until(lambda: host.run(inside).stdout == "200", timeout=10, interval=0.2), "probe never answered inside"
        with pytest.raises(TimeoutError):  # dropped, not refused: the SYN never gets an answer
            socket.create_connection((address, PROBE_PORT), timeout=2).close()
        assert connects(address, gateway.https_port)
        assert connects(address, gateway.http_port)
    finally:
        host.run(f"systemctl stop {PROBE_UNIT}")


def test_ssh_still_works_the_unit_is_enabled_and_the_table_is_ours_alone(host, state):
    assert fresh_ssh(state).returncode == 0
    unit = host.service(UNIT)
    assert unit.is_enabled and unit.is_running
    # The bare testbed host has no nftables tables of its own: ours is the only one.
    assert tables(host) == {f"table inet {TABLE}"}
    ruleset = host.check_output(f"nft list table inet {TABLE}")
    assert "policy drop;" in ruleset
    assert ssh_open_to_all(ruleset, state)  # no ssh_allow_from: SSH from anywhere
    assert host.file(RULESET).exists
    assert "flush ruleset" not in host.file(RULESET).content_string


def test_ssh_allow_from_elsewhere_still_lets_the_deploying_machine_deploy_again(deployer: Deployer, host, state):
    host.run_expect([0], f"nft add table {SENTINEL}")
    try:
        with phase("deploy with ssh_allow_from"):
            deployer.run(ssh_allow_from=[DOC_NETWORK])
        ruleset = host.check_output(f"nft list table inet {TABLE}")
        elements = re.search(r"set ssh_v4 \{.*?elements = \{ ([^}]*) \}", ruleset, re.DOTALL)
        assert elements, ruleset
        # The deploy came from the testbed's host side, which is not in ssh_allow_from: kept in anyway.
        assert set(elements.group(1).replace(",", " ").split()) == {DOC_NETWORK, state["host_address"]}
        assert not ssh_open_to_all(ruleset, state)
        assert fresh_ssh(state).returncode == 0
        with phase("re-deploy with ssh_allow_from"):
            result = deployer.run()
        changed = {op: success for op, success in firewall_rows(result.stdout + result.stderr).items() if success != "-"}
        assert not changed, f"the firewall changed on a re-deploy: {changed}"
        assert f"table {SENTINEL}" in tables(host)
    finally:
        deployer.run(ssh_allow_from=[])
        host.run(f"nft delete table {SENTINEL}")
    assert ssh_open_to_all(host.check_output(f"nft list table inet {TABLE}"), state)


def test_firewall_off_removes_our_table_and_unit_and_nothing_else(deployer: Deployer, host, state, gateway):
    host.run_expect([0], f"nft add table {SENTINEL}")
    try:
        with phase("deploy with firewall=False"):
            deployer.run(firewall="off")
        assert tables(host) == {f"table {SENTINEL}"}
        assert not host.file(f"/etc/systemd/system/{UNIT}").exists
        assert not host.file(RULESET).exists
        assert connects(state["target_address"], gateway.https_port)
    finally:
        deployer.run(firewall="on")
        host.run(f"nft delete table {SENTINEL}")
    assert host.service(UNIT).is_running
    assert tables(host) == {f"table inet {TABLE}"}
