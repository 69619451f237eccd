"""A Vagrant box of Debian for the libvirt provider, made from Debian's packages alone (Vagrant Cloud
is out of reach here), built once per set of inputs and cached.

    python -m tests.testbed.vagrant_box [--suite bookworm]      (make vagrant-box)

The box has the shape Vagrant boxes have: a `vagrant` user with passwordless sudo, logging in over
SSH with Vagrant's insecure public key (from Debian's vagrant package), which `vagrant up` replaces
with a key of the machine's own on first boot. Nothing machine-specific is baked in: no SSH host keys
(made on first boot, so no two machines share them), an empty machine-id, DHCP on the first network
interface (systemd-networkd), a serial console.

What the first deploy of inventory/vagrant.py would install with apt (camgate.packages, for that
gateway) is installed already: under software emulation (QEMU's TCG, all this machine kind has) apt
spends 4.5 of a bare box's 7.7 minutes of first deploy unpacking those packages, which proves nothing
the nspawn testbeds' bare-host deploys do not already prove natively. Debian's cloud kernel (virtio
drivers, no hardware ones) and no documentation keep the image small: `vagrant up` uploads it into
libvirt's storage pool the first time.

There is no boot loader: the box's own Vagrantfile boots Debian's kernel and initrd directly
(vagrant-libvirt's `kernel`, `initrd` and `cmd_line`), which needs no partition table, loop device or
GRUB written into an image. The root file system is made by `mke2fs -d` from the mmdebstrap tree.

Layout under ``${CAMGATE_CACHE:-~/.cache/camgate}/vagrant/``:

- ``camgate-debian-<suite>-<key>.box``  the box (an uncompressed tar, as `vagrant box add` takes)
- ``camgate-debian-<suite>-<key>/``     its files unpacked (box.img, vmlinuz, initrd.img, ...), for QEMU
- ``.lock``                             serialises builds

``<key>`` hashes every input: suite, packages, the insecure key, the files written into the image.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from .errors import TestbedError
from .proc import log, run
from .rootfs import DEFAULT_SUITE, camgate_cache, check_suite

BOX_NAMES = {"bookworm": "camgate/debian12", "trixie": "camgate/debian13"}  # CAMGATE_VAGRANT_BOX for the Vagrantfile
GATEWAY_INVENTORY = Path(__file__).resolve().parents[2] / "inventory/vagrant.py"
# Vagrant's well-known key pair, as Debian's vagrant package ships it.
INSECURE_KEYS = "/usr/share/rubygems-integration/all/gems/vagrant-*/keys"
DISK_GIB = 16  # the virtual size; the qcow2 file holds only what is written
PACKAGES: tuple[str, ...] = (
    "linux-image-cloud-amd64",
    "systemd",
    "systemd-sysv",
    "udev",
    "dbus",
    "openssh-server",
    "sudo",
    "python3",
    "ca-certificates",
    "iproute2",
    "procps",
    "apt-utils",
)
KERNEL_CMDLINE = "root=LABEL=root rw console=ttyS0 net.ifnames=0"
# dpkg leaves these out, in the build and in the machine later (copyright files stay).
DPKG_EXCLUDES = (
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
)
BUILD_TIMEOUT = 1200

# Files written into the image: path -> (mode, text).
IMAGE_FILES: dict[str, tuple[int, str]] = {
    "etc/fstab": (0o644, "LABEL=root / ext4 defaults,errors=remount-ro 0 1\n"),
    "etc/hostname": (0o644, "debian\n"),
    "etc/hosts": (0o644, "127.0.0.1 localhost\n127.0.1.1 debian\n::1 localhost ip6-localhost ip6-loopback\n"),
    "etc/sudoers.d/vagrant": (0o440, "vagrant ALL=(ALL) NOPASSWD:ALL\n"),
    "etc/systemd/network/80-dhcp.network": (0o644, "[Match]\nName=eth* en*\n\n[Network]\nDHCP=yes\n"),
    "etc/ssh/sshd_config.d/vagrant.conf": (0o644, "PasswordAuthentication no\nUseDNS no\n"),
    # Host keys are made on the machine's first boot, never shipped in the box.
    "etc/systemd/system/ssh-host-keys.service": (0o644, """[Unit]
Description=Make this machine's own SSH host keys
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
"""),
}
ENABLED_UNITS = ("systemd-networkd.service", "ssh-host-keys.service", "ssh.service")


def cache_root() -> Path:
    return camgate_cache() / "vagrant"


def insecure_key_dir() -> Path:
    found = sorted(Path("/").glob(INSECURE_KEYS.lstrip("/")))
    if not found:
        raise TestbedError(f"no {INSECURE_KEYS}: install Debian's vagrant package (make setup does)")
    return found[-1]


def insecure_public_key() -> str:
    return (insecure_key_dir() / "vagrant.pub").read_text()


def gateway_packages() -> tuple[str, ...]:
    """The packages the deploy of inventory/vagrant.py installs before any configuration."""
    from camgate.inventory import load_gateways
    from camgate.packages import plain_packages

    [gateway] = load_gateways(GATEWAY_INVENTORY)
    return tuple(plain_packages(gateway))


def box_packages() -> tuple[str, ...]:
    return tuple(sorted(set(PACKAGES + gateway_packages())))


def cache_key(suite: str) -> str:
    parts = [suite, *box_packages(), *DPKG_EXCLUDES, KERNEL_CMDLINE, str(DISK_GIB), insecure_public_key(), *ENABLED_UNITS]
    parts += [f"{path}:{mode:o}:{text}" for path, (mode, text) in sorted(IMAGE_FILES.items())]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def box_vagrantfile() -> str:
    """The box's own Vagrantfile: Vagrant merges it under the project's."""
    return f"""# Boots Debian's kernel and initrd from the box directly (the image has no boot loader).
Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |lv|
    lv.kernel = File.expand_path("../vmlinuz", __FILE__)
    lv.initrd = File.expand_path("../initrd.img", __FILE__)
    lv.cmd_line = "{KERNEL_CMDLINE}"
    lv.disk_bus = "virtio"
  end
end
"""


def ensure_box(suite: str = DEFAULT_SUITE) -> tuple[Path, Path, bool]:
    """(the .box file, its unpacked directory, True if both came from the cache)."""
    check_suite(suite)
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    name = f"camgate-debian-{suite}-{cache_key(suite)}"
    box, unpacked = root / f"{name}.box", root / name
    if box.exists() and (unpacked / "box.img").exists():
        return box, unpacked, True
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (box.exists() and (unpacked / "box.img").exists()):
            build(suite, box, unpacked)
            remove_older_builds(root, suite, keep=name)
            return box, unpacked, False
    return box, unpacked, True


def remove_older_builds(root: Path, suite: str, keep: str) -> None:
    """A box is about a gigabyte: the builds of earlier inputs go once a new one is made."""
    for path in root.glob(f"camgate-debian-{suite}-*"):
        if not path.name.startswith(keep):
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def build(suite: str, box: Path, unpacked: Path) -> None:
    log_file = box.with_suffix(".build.log")
    log(f"building the Vagrant box {box.name} (log: {log_file}) ...")
    with tempfile.TemporaryDirectory(dir=box.parent, prefix=".build-") as tmp:
        tree, files = Path(tmp) / "root", Path(tmp) / "box"
        files.mkdir()
        excludes = [f"--dpkgopt={option}" for option in DPKG_EXCLUDES]
        run(["mmdebstrap", "--variant=minbase", "--format=directory", *excludes, f"--include={','.join(box_packages())}", suite, tree],
            what="building the box's root file system with mmdebstrap", log_file=log_file, timeout=BUILD_TIMEOUT)  # fmt: skip
        shape_like_a_vagrant_box(tree, log_file)
        shutil.copyfile(only(tree / "boot", "vmlinuz-*"), files / "vmlinuz")
        shutil.copyfile(only(tree / "boot", "initrd.img-*"), files / "initrd.img")
        raw = Path(tmp) / "disk.raw"
        run(["mke2fs", "-q", "-t", "ext4", "-L", "root", "-d", tree, raw, f"{DISK_GIB}G"],
            what="making the box's disk", log_file=log_file, timeout=BUILD_TIMEOUT)  # fmt: skip
        # Compressed clusters: half the bytes for `vagrant up` to upload; the VM's writes go to its own overlay.
        run(["qemu-img", "convert", "-c", "-O", "qcow2", raw, files / "box.img"],
            what="converting the disk to a compressed qcow2", log_file=log_file, timeout=BUILD_TIMEOUT)  # fmt: skip
        (files / "metadata.json").write_text(json.dumps({"provider": "libvirt", "format": "qcow2", "virtual_size": DISK_GIB}))
        (files / "Vagrantfile").write_text(box_vagrantfile())
        part = box.with_suffix(".box.part")
        run(["tar", "-cf", part, "-C", files, "metadata.json", "Vagrantfile", "box.img", "vmlinuz", "initrd.img"],
            what="packing the box", log_file=log_file, timeout=BUILD_TIMEOUT)  # fmt: skip
        shutil.rmtree(unpacked, ignore_errors=True)
        os.rename(files, unpacked)
        os.replace(part, box)


def shape_like_a_vagrant_box(tree: Path, log_file: Path) -> None:
    """The vagrant user and its key, sudo, networking, first-boot host keys; nothing machine-specific."""
    run(["chroot", tree, "useradd", "--create-home", "--shell", "/bin/bash", "vagrant"],
        what="adding the vagrant user", log_file=log_file)  # fmt: skip
    for path, (mode, text) in IMAGE_FILES.items():
        target = tree / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(mode)
    ssh = tree / "home/vagrant/.ssh"
    ssh.mkdir(mode=0o700)
    (ssh / "authorized_keys").write_text(insecure_public_key())
    (ssh / "authorized_keys").chmod(0o600)
    run(["chroot", tree, "chown", "-R", "vagrant:vagrant", "/home/vagrant/.ssh"], what="owning the vagrant key", log_file=log_file)
    run(["chroot", tree, "systemctl", "enable", *ENABLED_UNITS], what="enabling the box's units", log_file=log_file)
    for key in (tree / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (tree / "etc/machine-id").write_text("")
    dbus_id = tree / "var/lib/dbus/machine-id"
    if dbus_id.exists() or dbus_id.is_symlink():
        dbus_id.unlink()


def only(directory: Path, pattern: str) -> Path:
    found = sorted(directory.glob(pattern))
    if len(found) != 1:
        raise TestbedError(f"expected one {pattern} in {directory}, found {[p.name for p in found]}")
    return found[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", default=DEFAULT_SUITE)
    args = parser.parse_args()
    box, unpacked, cached = ensure_box(args.suite)
    print(f"{box} ({'cached' if cached else 'built'}); add it with: vagrant box add --name {BOX_NAMES[args.suite]} {box}")


if __name__ == "__main__":
    main()
