"""The Vagrant box camgate builds from Debian's packages (tests/testbed/vagrant_box.py), as a file:
the shape `vagrant box add` and vagrant-libvirt expect. The VM phase
(tests/vm) boots it through Vagrant. Needs mmdebstrap, qemu-utils and vagrant (make setup installs
them); the first run builds the box (about 3 minutes), later runs reuse it."""

import json
import shutil
import subprocess
import tarfile

import pytest

from tests.testbed.vagrant_box import ensure_box


@pytest.fixture(scope="module")
def box():
    for tool in ("mmdebstrap", "qemu-img", "vagrant"):
        assert shutil.which(tool), f"{tool} is missing: make setup installs it (the Makefile's HOST_PACKAGES)"
    return ensure_box()


def test_the_box_is_a_libvirt_box_vagrant_can_add(box):
    with tarfile.open(box[0]) as tar:
        assert sorted(tar.getnames()) == ["Vagrantfile", "box.img", "initrd.img", "metadata.json", "vmlinuz"]
        metadata = json.load(tar.extractfile("metadata.json"))
    assert metadata["provider"] == "libvirt" and metadata["format"] == "qcow2"
    check = subprocess.run(["ruby", "-c", str(box[1] / "Vagrantfile")], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
