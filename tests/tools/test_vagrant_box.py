"""The Vagrant box camgate builds from Debian's packages (tests/testbed/vagrant_box.py), booted under
QEMU as vagrant-libvirt boots it: Vagrant's insecure key lets the vagrant user in, sudo needs no
password, and the machine made its own identity on first boot. Needs mmdebstrap, qemu-system-x86 and
vagrant (make setup installs them); the first run builds the box (about 2 minutes), later runs reuse it."""

import json
import shutil
import subprocess
import tarfile

import pytest

from tests.testbed.proc import free_ports, terminate, wait_until
from tests.testbed.vagrant_box import boot_with_qemu, ensure_box, insecure_private_key

BOOT_TIMEOUT = 420  # seconds to SSH under software emulation (measured: about a minute)


@pytest.fixture(scope="module")
def box():
    for tool in ("mmdebstrap", "qemu-system-x86_64", "qemu-img", "vagrant"):
        assert shutil.which(tool), f"{tool} is missing: make setup installs it (the Makefile's HOST_PACKAGES)"
    return ensure_box()


@pytest.fixture(scope="module")
def vm(box, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("vm")
    key = workdir / "insecure_key"
    shutil.copyfile(insecure_private_key(), key)
    key.chmod(0o600)
    port = free_ports(1)[0]
    qemu = boot_with_qemu(box[1], workdir, port)

    def ssh(command: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["ssh", "-i", str(key), "-p", str(port), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
             "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5",
             "-o", "LogLevel=ERROR", "vagrant@127.0.0.1", command],
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    try:
        up = wait_until(lambda: qemu.poll() is None and ssh("true", timeout=20).returncode == 0, timeout=BOOT_TIMEOUT, interval=3)
        console = (workdir / "console.log").read_text(errors="replace")[-3000:]
        assert up, f"no SSH as vagrant within {BOOT_TIMEOUT} s (QEMU exit {qemu.poll()}); console:\n{console}"
        yield ssh
    finally:
        terminate(qemu.pid, grace=5)


def test_the_box_is_a_libvirt_box_vagrant_can_add(box):
    with tarfile.open(box[0]) as tar:
        assert sorted(tar.getnames()) == ["Vagrantfile", "box.img", "initrd.img", "metadata.json", "vmlinuz"]
        metadata = json.load(tar.extractfile("metadata.json"))
    assert metadata["provider"] == "libvirt" and metadata["format"] == "qcow2"
    check = subprocess.run(["ruby", "-c", str(box[1] / "Vagrantfile")], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_vagrant_logs_in_with_its_insecure_key_and_sudo_needs_no_password(vm):
    result = vm("sudo -n id -u")
    assert (result.returncode, result.stdout.strip()) == (0, "0"), result.stderr


def test_the_machine_makes_its_own_identity_on_first_boot(vm):
    # The box ships no SSH host keys and no machine-id: each machine made from it gets its own.
    made = vm("systemctl show -p ConditionResult -p Result ssh-host-keys.service; cat /etc/machine-id")
    lines = made.stdout.split()
    assert "ConditionResult=yes" in lines and "Result=success" in lines, made.stdout
    assert len(lines[-1]) == 32 and int(lines[-1], 16), made.stdout


def test_the_box_boots_with_no_failed_unit_and_a_dhcp_address(vm):
    state = vm("systemctl is-system-running --wait; systemctl --failed --no-legend; ip -4 -o addr show dev eth0", timeout=180)
    assert state.stdout.splitlines()[0] == "running", state.stdout
    assert " inet " in state.stdout, state.stdout
