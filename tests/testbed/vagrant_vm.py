"""The gateway VM of the VM phase (tests/vm): the repository's Vagrantfile brought up through
vagrant-libvirt from the box tests/testbed/vagrant_box.py builds, as a libvirt user would, plus the
fake camera it pulls from this machine over its private network.

Everything Vagrant keeps goes out of the user's way: boxes under VAGRANT_HOME_DIR (not under /root:
libvirt's QEMU user must read the box's kernel and initrd), the machine's state under
``.testbed-vm/.vagrant`` (VAGRANT_DOTFILE_PATH, which inventory/vagrant.py follows too). On a host
without systemd as PID 1 (a container, this machine kind) libvirtd and virtlogd are started here and
stopped afterwards.
"""

from __future__ import annotations

import grp
import os
import subprocess
from pathlib import Path

from .cameras import FAKE_CAMERA_SCRIPT, SYSTEM_PYTHON, wait_for_ready
from .errors import TestbedError
from .proc import log, run, terminate, try_run, wait_until
from .vagrant_box import BOX_NAMES

ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = ROOT / ".testbed-vm"
VAGRANT_HOME_DIR = Path("/var/cache/camgate/vagrant-home")
BOX_NAME = BOX_NAMES["bookworm"]
MACHINE = "camgate"  # config.vm.define in the Vagrantfile
VM_ADDRESS = "192.168.56.10"  # its private_network address
HOST_ADDRESS = "192.168.56.1"  # this machine, as the VM sees it there (inventory/vagrant.py's camera)
CAMERA_PORT = 8554
LIBVIRT_SOCKET = Path("/run/libvirt/libvirt-sock")
KVM = Path("/dev/kvm")
STORAGE_POOL = "default"  # vagrant-libvirt's
UP_TIMEOUT = 900  # first `vagrant up`: the image upload and a boot under software emulation


def vagrant_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        VAGRANT_CWD=str(ROOT),  # the repository's Vagrantfile, whatever the working directory
        VAGRANT_HOME=str(VAGRANT_HOME_DIR),
        VAGRANT_DOTFILE_PATH=str(STATE_DIR / ".vagrant"),
        VAGRANT_DEFAULT_PROVIDER="libvirt",
        VAGRANT_CHECKPOINT_DISABLE="1",  # no version check with HashiCorp's servers
        VAGRANT_NO_COLOR="1",
        CAMGATE_VAGRANT_BOX=BOX_NAME,
    )
    # TCG: this machine kind's /dev/kvm is a nested one that does not boot Debian's kernel.
    env.setdefault("CAMGATE_VAGRANT_LIBVIRT_DRIVER", "qemu")
    return env


def vagrant(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    STATE_DIR.mkdir(exist_ok=True)
    log_file = STATE_DIR / "vagrant.log"
    try:
        return run(["vagrant", *args], what=f"vagrant {' '.join(args)}", log_file=log_file, timeout=timeout, env=vagrant_env())
    except TestbedError as exc:
        tail = log_file.read_text(errors="replace")[-3000:]
        raise TestbedError(f"{exc}\n--- end of {log_file}:\n{tail}") from exc


# libvirt ----------------------------------------------------------------------------------------
def start_libvirt() -> tuple[list[subprocess.Popen], tuple[int, int] | None]:
    """libvirtd (and virtlogd, which it needs for the console) running: (the processes started here,
    /dev/kvm's group and mode before, when they were changed)."""
    if LIBVIRT_SOCKET.exists():
        return [], None
    if Path("/run/systemd/system").is_dir():
        run(["systemctl", "start", "libvirtd.service"], what="starting libvirtd")
        return [], None
    STATE_DIR.mkdir(exist_ok=True)
    kvm_before = kvm_as_udev_sets_it()
    started = []
    for daemon in ("virtlogd", "libvirtd"):
        with open(STATE_DIR / f"{daemon}.log", "w") as out:
            started.append(subprocess.Popen([daemon], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
    if not wait_until(LIBVIRT_SOCKET.exists, timeout=30):
        stop_libvirt((started, kvm_before))
        raise TestbedError(f"libvirtd did not open {LIBVIRT_SOCKET} within 30 s; see {STATE_DIR / 'libvirtd.log'}")
    return started, kvm_before


def kvm_as_udev_sets_it() -> tuple[int, int] | None:
    """/dev/kvm as Debian's udev leaves it (group kvm, 0660); its (group, mode) before, if changed.

    Without udev (a container) the node stays root's alone, and libvirt then finds its cached QEMU
    capabilities (probed as root, with KVM) out of date at every call, because its QEMU user could
    not open KVM: each call probes QEMU again, which added two minutes to a `vagrant up`."""
    if not KVM.exists():
        return None
    stat = KVM.stat()
    kvm_group = grp.getgrnam("kvm").gr_gid
    if stat.st_gid == kvm_group and stat.st_mode & 0o060 == 0o060:
        return None
    os.chown(KVM, -1, kvm_group)
    KVM.chmod(0o660)
    return stat.st_gid, stat.st_mode & 0o7777


def stop_libvirt(started: tuple[list[subprocess.Popen], tuple[int, int] | None]) -> None:
    processes, kvm_before = started
    for proc in reversed(processes):
        terminate(proc.pid, grace=15)
        proc.wait()
    if kvm_before is not None:
        os.chown(KVM, -1, kvm_before[0])
        KVM.chmod(kvm_before[1])


def virsh(*args: str) -> subprocess.CompletedProcess[str]:
    return try_run(["virsh", "-c", "qemu:///system", *args])


# the box ----------------------------------------------------------------------------------------
def add_box(box: Path) -> bool:
    """Make `box` Vagrant's BOX_NAME (once per build of it); False if it was already. The pool
    volumes of the boxes it replaces go too (vagrant-libvirt names them by the box's added time)."""
    stamp = VAGRANT_HOME_DIR / f"{BOX_NAME.replace('/', '-')}.added"
    if stamp.exists() and stamp.read_text().strip() == box.name:
        return False
    VAGRANT_HOME_DIR.mkdir(parents=True, exist_ok=True)
    for folder in (VAGRANT_HOME_DIR.parent, VAGRANT_HOME_DIR):
        folder.chmod(0o755)
    vagrant("box", "add", "--force", "--name", BOX_NAME, str(box), timeout=600)
    prefix = BOX_NAME.replace("/", "-VAGRANTSLASH-") + "_vagrant_box_image_"
    for line in virsh("vol-list", STORAGE_POOL).stdout.splitlines():
        name = (line.split() or [""])[0]
        if name.startswith(prefix):
            virsh("vol-delete", name, "--pool", STORAGE_POOL)
    stamp.write_text(box.name + "\n")
    return True


# the machine ------------------------------------------------------------------------------------
def up() -> None:
    vagrant("destroy", "-f", MACHINE)  # a machine left by an interrupted run never carries state over
    vagrant("up", "--provider", "libvirt", MACHINE, timeout=UP_TIMEOUT)


def destroy() -> None:
    try:
        vagrant("destroy", "-f", MACHINE, timeout=120)
    except TestbedError as exc:
        log(f"vagrant destroy failed: {exc}")


def ssh_config() -> Path:
    """`vagrant ssh-config` in a file: Host camgate, as the vagrant user, with the machine's key."""
    result = subprocess.run(
        ["vagrant", "ssh-config", MACHINE], cwd=ROOT, env=vagrant_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if result.returncode != 0:
        raise TestbedError(f"vagrant ssh-config failed: {result.stderr[-2000:]}")
    path = STATE_DIR / "ssh_config"
    path.write_text(result.stdout)
    return path


# the camera -------------------------------------------------------------------------------------
def start_camera() -> subprocess.Popen:
    """inventory/vagrant.py's camera: a fake camera on the VM's private network (its bridge exists once
    the VM is up), H.264 + AAC like the testbed's cam1."""
    log_path = STATE_DIR / "cam1.log"
    argv = [SYSTEM_PYTHON, str(FAKE_CAMERA_SCRIPT), "--address", HOST_ADDRESS, "--port", str(CAMERA_PORT), "--mount", "/cam1", "--no-stamp"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    with open(log_path, "w") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    wait_for_ready(proc, log_path, "cam1")
    return proc


def stop_camera(proc: subprocess.Popen) -> None:
    terminate(proc.pid, grace=5)
    proc.wait()
