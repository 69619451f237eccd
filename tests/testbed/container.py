"""The target host: an overlay over the cached base tree, booted with systemd-nspawn under a supervisor."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from . import ssh
from .errors import TestbedError
from .layout import Layout
from .proc import find_pids, is_alive, log, pid_matches, reap, run, signal_pid, terminate, try_run, wait_until

SUPERVISOR_SCRIPT = Path(__file__).with_name("supervisor.py")
BOOT_TIMEOUT = 60.0
STOP_GRACE = 10.0
# read-only: like passive (the container gets a pseudo-TTY as /dev/console) but the console output
# is copied to nspawn's stdout, i.e. into container.log, which makes boot failures diagnosable.
CONSOLE_MODE = "read-only"

SSHD_DROPIN = """\
# Written by camgate's testbed: key-only root login, as on a freshly provisioned VPS.
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
"""

APT_CONF = """\
// Written by camgate's testbed: the target has IPv4 only (NAT through the host).
Acquire::ForceIPv4 "true";
Acquire::Retries "3";
"""


# overlay ---------------------------------------------------------------------------------------
def mount_overlay(layout: Layout, base: Path) -> None:
    """Mount a fresh overlay (lower = cached base tree, upper/work in the state dir) at layout.root."""
    for path in (base, layout.upper_dir, layout.work_dir, layout.root):
        if any(c in str(path) for c in ",:\\"):
            raise TestbedError(f"overlayfs cannot use a path containing ',', ':' or '\\': {path}")
    if overlay_mounted(layout):
        raise TestbedError(f"{layout.root} is already mounted; run down() first")
    for path in (layout.upper_dir, layout.work_dir, layout.root):
        path.mkdir(parents=True, exist_ok=True)
    layout.root.chmod(0o755)
    run(
        ["mount", "-t", "overlay", "overlay", "-o",
         f"lowerdir={base},upperdir={layout.upper_dir},workdir={layout.work_dir}", layout.root],
        what=f"mounting the overlay root at {layout.root}",
    )


def overlay_mounted(layout: Layout) -> bool:
    target = str(layout.root)
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mount_point = line.split()[4].replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")
        if mount_point == target:
            return True
    return False


def unmount_overlay(layout: Layout) -> None:
    """Unmount the overlay (retrying briefly while the last container processes exit)."""
    if not overlay_mounted(layout):
        return
    for _ in range(20):
        if try_run(["umount", layout.root]).returncode == 0 or not overlay_mounted(layout):
            return
        time.sleep(0.25)
    log(f"{layout.root} still busy; detaching it lazily")
    run(["umount", "-l", layout.root], what=f"unmounting {layout.root}")


# customisation before boot ----------------------------------------------------------------------
def customize_root(layout: Layout, client_public_key: str) -> None:
    """Turn the base image into this testbed's host: identity, SSH access, apt settings."""
    root = layout.root
    write_file(root / "etc/hostname", f"{layout.name}\n")
    write_file(root / "etc/hosts",
               f"127.0.0.1\tlocalhost\n127.0.1.1\t{layout.name}\n"
               "::1\tlocalhost ip6-localhost ip6-loopback\n")
    # The image has an empty machine-id (first-boot semantics); give each run its own, like a VM.
    write_file(root / "etc/machine-id", uuid.uuid4().hex + "\n", mode=0o444)
    ssh_dir = root / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    ssh_dir.chmod(0o700)
    write_file(ssh_dir / "authorized_keys", client_public_key + "\n", mode=0o600)
    write_file(root / "etc/ssh/sshd_config.d/camgate-testbed.conf", SSHD_DROPIN)
    write_file(root / "etc/apt/apt.conf.d/99camgate-testbed", APT_CONF)
    enable_unit(root, "ssh.service", "multi-user.target")


def write_file(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        path.unlink()
    path.write_text(text)
    path.chmod(mode)


def enable_unit(root: Path, unit: str, target: str) -> None:
    unit_file = root / "lib/systemd/system" / unit
    if not unit_file.exists():
        raise TestbedError(f"{unit} is missing from the rootfs ({unit_file})")
    wants = root / "etc/systemd/system" / f"{target}.wants"
    wants.mkdir(parents=True, exist_ok=True)
    link = wants / unit
    if not link.exists() and not link.is_symlink():
        link.symlink_to(f"/lib/systemd/system/{unit}")


# boot / stop ------------------------------------------------------------------------------------
def nspawn_argv(layout: Layout) -> list[str]:
    return [
        "systemd-nspawn", "-q", "-b",
        "-D", str(layout.root),
        "-M", layout.name,
        "--register=no", "--keep-unit",
        f"--console={CONSOLE_MODE}",
        "--resolv-conf=copy-host", "--timezone=off", "--link-journal=no",
        f"--network-namespace-path=/run/netns/{layout.netns}",
        # nspawn drops CAP_NET_ADMIN with a joined namespace; the host manages its own firewall like a VM.
        "--capability=CAP_NET_ADMIN",
    ]


def cgroup_dir(layout: Layout) -> Path | None:
    """The container's own cgroup2 directory, where the host has a cgroup2 hierarchy and runs no
    systemd of its own (which would give every nspawn its own scope instead)."""
    for mount in (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup")):
        if (mount / "cgroup.procs").exists() and not Path("/run/systemd/system").is_dir():
            return mount / layout.name
    return None


def remove_cgroup(layout: Layout) -> None:
    path = cgroup_dir(layout)
    if path is None or not path.is_dir():
        return
    # Leaf first: systemd inside the container made a tree below it.
    for sub in sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        try:
            sub.rmdir()
        except OSError:
            pass
    try:
        path.rmdir()
    except OSError:
        pass


def supervisor_pid_file(layout: Layout) -> Path:
    return layout.pid_file("supervisor")


def nspawn_pid_file(layout: Layout) -> Path:
    return layout.pid_file("nspawn")


def start(layout: Layout) -> int:
    """Start the supervisor (which starts nspawn) detached from us; return the supervisor PID."""
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY="1")
    argv = [sys.executable, str(SUPERVISOR_SCRIPT), "--pid-file", str(nspawn_pid_file(layout))]
    if cgroup_dir(layout):
        argv += ["--cgroup", str(cgroup_dir(layout))]
    argv += ["--", *nspawn_argv(layout)]
    with open(layout.container_log, "a") as out:
        out.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(argv)}\n")
        out.flush()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True, close_fds=True)
    supervisor_pid_file(layout).write_text(f"{proc.pid}\n")
    return proc.pid


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def supervisor_pid(layout: Layout) -> int | None:
    pid = read_pid(supervisor_pid_file(layout))
    return pid if pid_matches(pid, str(nspawn_pid_file(layout))) else None


def nspawn_pid(layout: Layout) -> int | None:
    pid = read_pid(nspawn_pid_file(layout))
    return pid if pid_matches(pid, str(layout.root)) else None


def is_running(layout: Layout) -> bool:
    return supervisor_pid(layout) is not None and nspawn_pid(layout) is not None


def wait_for_ssh(layout: Layout, supervisor: int, timeout: float = BOOT_TIMEOUT) -> float:
    """Wait until `ssh ALIAS true` works with the pinned key; return seconds waited."""
    start_time = time.monotonic()
    deadline = start_time + timeout

    def check_alive() -> None:
        reap(supervisor)
        if not is_alive(supervisor):
            raise TestbedError(
                f"the container of {layout.name} exited during boot; see {layout.container_log}"
            )

    while True:
        check_alive()
        if ssh.sshd_answers(layout.target_address, timeout=0.5):
            result = ssh.ssh_run(layout, ["true"], timeout=15)
            if result.returncode == 0:
                return time.monotonic() - start_time
            last_error = result.stderr.strip()
        else:
            last_error = "sshd not answering on port 22"
        if time.monotonic() > deadline:
            raise TestbedError(
                f"{layout.name}: no SSH login within {timeout:.0f}s ({last_error}); "
                f"see {layout.container_log}"
            )
        time.sleep(0.2)


def wait_for_system_running(layout: Layout, timeout: float = BOOT_TIMEOUT) -> str:
    """Wait for `systemctl is-system-running --wait` to settle; running and degraded are fine."""
    result = ssh.ssh_run(layout, ["systemctl", "is-system-running", "--wait"], timeout=timeout)
    state = result.stdout.strip()
    if state not in ("running", "degraded"):
        raise TestbedError(
            f"{layout.name}: system state is {state or result.stderr.strip()!r} after boot; "
            f"see {layout.container_log} and `systemctl --failed` on the target"
        )
    if state == "degraded":
        failed = ssh.ssh_run(layout, ["systemctl", "--failed", "--no-legend", "--plain"], timeout=30)
        log(f"{layout.name} is degraded: {failed.stdout.strip()}")
    return state


def stop(layout: Layout, grace: float = STOP_GRACE) -> None:
    """Power the container off (SIGTERM to nspawn via the supervisor), then make sure all is gone."""
    supervisor = supervisor_pid(layout)
    nspawn = nspawn_pid(layout)
    if supervisor is not None:
        signal_pid(supervisor, signal.SIGTERM)  # forwarded to nspawn; the loop ends
        if nspawn is not None:
            wait_until(lambda: not is_alive(nspawn), timeout=grace, interval=0.1)
        terminate(supervisor, grace=2.0)
    elif nspawn is not None:
        terminate(nspawn, grace=grace)
    for pid in stray_nspawns(layout):
        terminate(pid, grace=grace)
    for pid in stray_supervisors(layout):
        terminate(pid, grace=2.0)
    kill_processes_rooted_in(layout.root)
    supervisor_pid_file(layout).unlink(missing_ok=True)
    nspawn_pid_file(layout).unlink(missing_ok=True)


def stray_nspawns(layout: Layout) -> list[int]:
    """systemd-nspawn processes of this testbed that no PID file knows about."""
    root = str(layout.root)

    def mine(argv: list[str]) -> bool:
        return Path(argv[0]).name == "systemd-nspawn" and root in argv and layout.name in argv

    return find_pids(mine)


def stray_supervisors(layout: Layout) -> list[int]:
    marker = str(nspawn_pid_file(layout))
    return find_pids(lambda argv: str(SUPERVISOR_SCRIPT) in argv and marker in argv)


def kill_processes_rooted_in(root: Path) -> None:
    """SIGKILL processes whose / is the overlay (left when nspawn itself was killed)."""
    target = str(root)

    def rooted_here(pid: int) -> bool:
        try:
            return os.readlink(f"/proc/{pid}/root") == target
        except OSError:
            return False

    pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and rooted_here(int(p.name))]
    for pid in pids:
        signal_pid(pid, signal.SIGKILL)
    if pids:
        wait_until(lambda: not any(is_alive(pid) for pid in pids), timeout=10)


def remove_leftovers(layout: Layout) -> None:
    """Remove what nspawn leaves in /run (not a tmpfs here), the container's cgroup and the
    overlay's per-run dirs."""
    remove_cgroup(layout)
    try_run(["rm", "-rf", "--one-file-system", layout.propagate_dir])
    if not overlay_mounted(layout):
        try_run(["rm", "-rf", "--one-file-system", layout.overlay_dir])
        try:
            layout.root.rmdir()
        except OSError:
            pass
