"""The VM phase: one Debian 12 VM from the repository's Vagrantfile through vagrant-libvirt, deployed
to with inventory/vagrant.py as a user would, checked from this machine, destroyed at the end.
Needs root, vagrant, vagrant-libvirt, libvirt and QEMU (make setup installs them)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import testinfra

from tests.conftest import phase
from tests.testbed import network, vagrant_vm
from tests.testbed.vagrant_box import ensure_box

INVENTORY = "inventory/vagrant.py"
TOOLS = ("vagrant", "virsh", "libvirtd", "virtlogd", "qemu-system-x86_64", "mmdebstrap")


@pytest.fixture(scope="session")
def vm():
    """The running VM, its fake camera up; yields `vagrant ssh-config`'s file."""
    assert os.geteuid() == 0, "the VM phase needs root (libvirt's system instance); run `make test` as root"
    missing = [tool for tool in TOOLS if not shutil.which(tool)]
    assert not missing, f"{', '.join(missing)} missing: make setup installs them (the Makefile's HOST_PACKAGES)"
    box, _unpacked, _cached = ensure_box()
    daemons = vagrant_vm.start_libvirt()
    network.hold_ip_forward("vagrant-vm")  # the VM reaches the Debian archive through libvirt's NAT
    camera = None
    try:
        with phase("vagrant box add (once per box)"):
            vagrant_vm.add_box(box)
        with phase("vagrant up (to SSH, provisioned)"):
            vagrant_vm.up()
        camera = vagrant_vm.start_camera()
        yield vagrant_vm.ssh_config()
    finally:
        if camera is not None:
            vagrant_vm.stop_camera(camera)
        with phase("vagrant destroy"):
            vagrant_vm.destroy()
        network.release_ip_forward("vagrant-vm")
        vagrant_vm.stop_libvirt(daemons)


@pytest.fixture(scope="session")
def guest(vm):
    """testinfra on the VM as Vagrant reaches it (`vagrant ssh-config`: the vagrant user, sudo)."""
    return testinfra.get_host(f"ssh://{vagrant_vm.MACHINE}", ssh_config=str(vm), sudo=True)


def as_user(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """A command as a user runs it from the repository, with the VM's Vagrant settings."""
    return subprocess.run(
        argv, cwd=vagrant_vm.ROOT, env=vagrant_vm.vagrant_env(), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def camgate(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return as_user([sys.executable, "-m", "camgate.cli", *args], timeout)


def deploy() -> subprocess.CompletedProcess[str]:
    return as_user([sys.executable, "-m", "pyinfra", "-y", INVENTORY, "deploy.py"], timeout=1200)


@pytest.fixture(scope="session")
def deployed(vm) -> subprocess.CompletedProcess[str]:
    with phase("first deploy in the VM"):
        result = deploy()
    assert result.returncode == 0, f"deploy failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    return result
