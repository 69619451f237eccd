"""Keeps systemd-nspawn running across reboots of the container, like a VM's power loop.

Usage: python supervisor.py --pid-file FILE -- systemd-nspawn ARGS...

systemd-nspawn exits 133 when the container runs `systemctl reboot`; the supervisor then starts it
again. Any other exit ends the supervisor with the same code. SIGTERM/SIGINT are forwarded to
nspawn (which powers the container off cleanly) and the loop stops. The current nspawn PID is kept
in --pid-file so the testbed can find it. Runs standalone: no imports from the package.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

REBOOT_EXIT_CODE = 133


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pid-file", required=True)
    parser.add_argument("--cgroup", help="join this cgroup2 directory first (the container's own subtree)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")

    if args.cgroup:
        join_cgroup(args.cgroup)
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)

    boots = 0
    while True:
        boots += 1
        stamp(f"starting container (boot {boots})")
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        write_pid(args.pid_file, child.pid)
        code = child.wait()
        stamp(f"systemd-nspawn exited {code}")
        if stopping or code != REBOOT_EXIT_CODE:
            remove_pid(args.pid_file)
            return code
        time.sleep(0.2)  # let the kernel finish tearing the old container down


def join_cgroup(path: str) -> None:
    """Move this process (and so nspawn and the container) into its own cgroup2 directory: without
    it every testbed's systemd would manage one shared tree, and stopping a unit in one container
    would kill the same-named unit's processes in another."""
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "cgroup.procs"), "w") as procs:
        procs.write(str(os.getpid()))


def stamp(message: str) -> None:
    print(f"[supervisor {time.strftime('%H:%M:%S')}] {message}", flush=True)


def write_pid(path: str, pid: int) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as out:
        out.write(f"{pid}\n")
    os.replace(tmp, path)


def remove_pid(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


if __name__ == "__main__":
    sys.exit(main())
