"""The Vagrant path run for real: `vagrant up` (libvirt, the box from Debian's packages), the deploy of
inventory/vagrant.py, `camgate verify`, and what only a real kernel and a real reboot show: the
firewall seen from another machine, and every camera back after a reboot."""

from __future__ import annotations

import re
import socket
import subprocess
import time

import pytest

from tests.conftest import phase
from tests.integration.conftest import grand_total
from tests.testbed import vagrant_vm
from tests.testbed.proc import connects, wait_until
from tests.testbed.vagrant_box import insecure_public_key
from tests.vm.conftest import INVENTORY, camgate, deploy

PROBE_UNIT = "camgate-vm-probe"
PROBE_PORT = 8099
REBOOT_TIMEOUT = 600  # down, a boot under software emulation (about a minute) and every camera fresh


def ssh(ssh_config, command: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """A new SSH connection as Vagrant makes it (never a multiplexed one that outlives a reboot)."""
    return subprocess.run(
        ["ssh", "-F", str(ssh_config), "-o", "ControlMaster=no", "-o", "ControlPath=none", "-o", "ConnectTimeout=5",
         vagrant_vm.MACHINE, command],
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_the_machine_made_its_own_identity_and_vagrant_replaced_its_insecure_key(guest):
    # The box ships no SSH host keys and no machine-id: each machine made from it gets its own.
    assert guest.run("systemctl show -p Result --value ssh-host-keys.service").stdout.strip() == "success"
    assert re.fullmatch(r"[0-9a-f]{32}", guest.file("/etc/machine-id").content_string.strip())
    authorized = guest.file("/home/vagrant/.ssh/authorized_keys").content_string
    assert insecure_public_key().split()[1] not in authorized  # `vagrant up` swapped it for the machine's own
    assert guest.run("systemctl is-system-running").stdout.strip() == "running"
    assert vagrant_vm.VM_ADDRESS in guest.interface("eth1").addresses


def test_the_first_deploy_succeeds_and_a_second_changes_nothing(deployed):
    assert grand_total(deployed.stdout + deployed.stderr)["error"] == "-"
    with phase("second deploy in the VM (no change)"):
        again = deploy()
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-2000:]
    total = grand_total(again.stdout + again.stderr)
    assert (total["success"], total["error"]) == ("-", "-"), again.stdout[-4000:]


def test_camgate_verify_passes_against_the_vm(deployed):
    result = camgate("verify", INVENTORY)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_port_opened_inside_the_vm_is_dropped_from_outside_while_https_answers(deployed, guest):
    guest.run_expect([0], f"systemd-run --unit {PROBE_UNIT} python3 -m http.server --bind 0.0.0.0 {PROBE_PORT}")
    try:
        inside = f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 5 http://127.0.0.1:{PROBE_PORT}/"
        assert wait_until(lambda: guest.run(inside).stdout == "200", timeout=60, interval=1), "the probe never answered inside"
        with pytest.raises(TimeoutError):  # dropped by the kernel's ruleset, not refused: no answer at all
            socket.create_connection((vagrant_vm.VM_ADDRESS, PROBE_PORT), timeout=3).close()
        assert connects(vagrant_vm.VM_ADDRESS, 443, timeout=5)
        assert connects(vagrant_vm.VM_ADDRESS, 22, timeout=5)
    finally:
        guest.run(f"systemctl stop {PROBE_UNIT}")


def test_after_a_reboot_every_camera_comes_back_with_the_firewall_and_hidden_processes(deployed, vm):
    before = ssh(vm, "cat /proc/sys/kernel/random/boot_id").stdout.strip()
    assert before, "no boot id before the reboot"
    start = time.monotonic()
    with phase("VM reboot -> every camera up (camgate status)"):
        ssh(vm, "sudo systemd-run --on-active=1 systemctl reboot")
        rebooted = wait_until(
            lambda: ssh(vm, "cat /proc/sys/kernel/random/boot_id").stdout.strip() not in ("", before),
            timeout=REBOOT_TIMEOUT, interval=3,
        )  # fmt: skip
        assert rebooted, f"the VM did not come back within {REBOOT_TIMEOUT} s"
        up = wait_until(
            lambda: camgate("status", INVENTORY, timeout=120).returncode == 0,
            timeout=REBOOT_TIMEOUT - (time.monotonic() - start), interval=3,
        )  # fmt: skip
    status = camgate("status", INVENTORY, timeout=120)
    assert up, f"not every camera up after the reboot:\n{status.stdout}{status.stderr}"
    state = ssh(vm, "sudo nft list table inet camgate | grep -c 'policy drop'; findmnt -no OPTIONS /proc")
    assert state.stdout.splitlines()[0] != "0", state.stdout  # the ruleset is loaded at boot
    assert "hidepid=invisible" in state.stdout, state.stdout
    result = camgate("verify", INVENTORY)
    assert result.returncode == 0, result.stdout + result.stderr
