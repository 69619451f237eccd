"""Small process helpers: checked subprocess runs, PID checks, bounded waits, phase timing."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence

from .errors import TestbedError


def log(message: str) -> None:
    """Progress line for humans, on stderr (stdout stays free for machine-readable output)."""
    print(f"testbed: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def phase(name: str, timings: dict[str, float] | None = None) -> Iterator[None]:
    """Time a phase of up()/down() and print its duration to stderr."""
    start = time.monotonic()
    yield
    elapsed = time.monotonic() - start
    if timings is not None:
        timings[name] = round(elapsed, 2)
    log(f"{name}: {elapsed:.2f}s")


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    what: str,
    log_file: Path | None = None,
    timeout: float | None = 120,
    input: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command (never through a shell), raising TestbedError naming `what` on failure.

    When `log_file` is given, the command's output is appended there and the error points at it;
    otherwise output is captured and quoted in the error.
    """
    args = [str(a) for a in argv]
    try:
        if log_file is not None:
            with open(log_file, "a") as out:
                out.write(f"\n$ {' '.join(args)}\n")
                out.flush()
                return subprocess.run(
                    args, check=True, text=True, stdout=out, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL if input is None else None, input=input,
                    timeout=timeout, env=env,
                )
        return subprocess.run(
            args, check=True, text=True, capture_output=True,
            stdin=subprocess.DEVNULL if input is None else None, input=input,
            timeout=timeout, env=env,
        )
    except FileNotFoundError as exc:
        raise TestbedError(f"{what}: command not found: {args[0]}") from exc
    except subprocess.TimeoutExpired as exc:
        where = f" (see {log_file})" if log_file else ""
        raise TestbedError(f"{what}: timed out after {timeout}s: {' '.join(args)}{where}") from exc
    except subprocess.CalledProcessError as exc:
        if log_file is not None:
            detail = f"see {log_file}"
        else:
            detail = (exc.stderr or exc.stdout or "").strip()[-2000:] or "no output"
        raise TestbedError(f"{what}: `{' '.join(args)}` exited {exc.returncode}: {detail}") from exc


def try_run(argv: Sequence[str | os.PathLike[str]]) -> subprocess.CompletedProcess[str]:
    """Run a command whose failure is expected and fine (cleanup of things that may not exist)."""
    return subprocess.run(
        [str(a) for a in argv], text=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=60
    )


def connects(address: str, port: int, timeout: float = 2.0) -> bool:
    """True if a TCP connection to address:port opens within `timeout` seconds."""
    try:
        socket.create_connection((address, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def free_ports(count: int, kind: int = socket.SOCK_STREAM) -> list[int]:
    """`count` distinct loopback ports free right now (TCP by default, socket.SOCK_DGRAM for UDP)."""
    sockets = [socket.socket(socket.AF_INET, kind) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def wait_until(check: Callable[[], bool], *, timeout: float, interval: float = 0.2) -> bool:
    """Poll `check` until it returns True or `timeout` seconds pass; return the last result."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def cmdline(pid: int) -> list[str]:
    """The argv of a running process, or [] if it is gone (or a zombie)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_alive(pid: int | None) -> bool:
    """True when `pid` runs and is not a zombie."""
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def process_state(pid: int) -> str:
    """The one-letter state of a process from /proc (R, S, T, Z, ...), or '' if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[0]


def pid_matches(pid: int | None, marker: str) -> bool:
    """True when `pid` is alive and `marker` is one of its arguments (guards against PID reuse)."""
    return bool(pid) and is_alive(pid) and marker in cmdline(pid)  # type: ignore[arg-type]


def find_pids(predicate: Callable[[list[str]], bool]) -> list[int]:
    """PIDs of live processes whose argv satisfies `predicate` (exact, caller-defined matching)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid == os.getpid():
            continue
        argv = cmdline(pid)
        if argv and predicate(argv) and is_alive(pid):
            found.append(pid)
    return found


def signal_pid(pid: int, sig: int) -> bool:
    """Send `sig` to `pid`; False if the process is already gone."""
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def reap(pid: int) -> None:
    """Collect `pid` if it happens to be our own child (avoids a zombie that looks alive)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def terminate(pid: int, *, grace: float = 10.0) -> None:
    """SIGTERM `pid`, wait up to `grace` seconds, then SIGKILL it and wait for it to go."""
    if not is_alive(pid):
        return
    signal_pid(pid, signal.SIGCONT)  # a stopped process cannot act on SIGTERM
    signal_pid(pid, signal.SIGTERM)

    def gone() -> bool:
        reap(pid)
        return not is_alive(pid)

    if wait_until(gone, timeout=grace, interval=0.1):
        return
    signal_pid(pid, signal.SIGKILL)
    if not wait_until(gone, timeout=10, interval=0.1):
        raise TestbedError(f"process {pid} ({' '.join(cmdline(pid))}) survived SIGKILL")
