"""SSH to the target: a generated client key, host keys pinned before boot, an ssh_config entry."""

from __future__ import annotations

import shlex
import socket
import subprocess
from pathlib import Path
from typing import Sequence

from .errors import TestbedError
from .layout import Layout
from .proc import run


def ensure_client_key(layout: Layout) -> Path:
    """Generate the ed25519 client key once per state dir (mode 0600) and return its path."""
    layout.ssh_dir.mkdir(parents=True, exist_ok=True)
    layout.ssh_dir.chmod(0o700)
    key = layout.ssh_key
    if not (key.exists() and key.with_suffix(".pub").exists()):
        key.unlink(missing_ok=True)
        key.with_suffix(".pub").unlink(missing_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"camgate-testbed@{layout.name}",
             "-f", key], what="generating the testbed SSH key")
    key.chmod(0o600)
    return key


def public_key(layout: Layout) -> str:
    return layout.ssh_key.with_suffix(".pub").read_text().strip()


def target_host_keys(root: Path) -> list[str]:
    """`TYPE BASE64` of each host public key in the target's /etc/ssh, read before boot."""
    keys = []
    for pub in sorted((root / "etc" / "ssh").glob("ssh_host_*_key.pub")):
        fields = pub.read_text().split()
        if len(fields) >= 2:
            keys.append(f"{fields[0]} {fields[1]}")
    if not keys:
        raise TestbedError(f"no SSH host keys in {root}/etc/ssh: is openssh-server in the rootfs?")
    return keys


def write_known_hosts(layout: Layout, host_keys: list[str]) -> None:
    """Pin the host keys under the target address and the alias (one name per line)."""
    lines = [f"{name} {key}" for name in (layout.target_address, layout.name) for key in host_keys]
    layout.known_hosts.write_text("\n".join(lines) + "\n")
    layout.known_hosts.chmod(0o600)


def _quote(path: Path) -> str:
    return '"' + str(path) + '"'


def ssh_config_text(layout: Layout) -> str:
    return (
        f"Host {layout.name}\n"
        f"    HostName {layout.target_address}\n"
        f"    Port 22\n"
        f"    User root\n"
        f"    IdentityFile {_quote(layout.ssh_key)}\n"
        f"    IdentitiesOnly yes\n"
        f"    UserKnownHostsFile {_quote(layout.known_hosts)}\n"
        f"    GlobalKnownHostsFile /dev/null\n"
        f"    StrictHostKeyChecking yes\n"
        f"    CheckHostIP no\n"
        f"    BatchMode yes\n"
        f"    PasswordAuthentication no\n"
        f"    ConnectTimeout 5\n"
        f"    ServerAliveInterval 5\n"
        f"    ServerAliveCountMax 3\n"
        f"    LogLevel ERROR\n"
    )


def write_ssh_config(layout: Layout) -> None:
    layout.ssh_config.write_text(ssh_config_text(layout))
    layout.ssh_config.chmod(0o600)


def remove_pinning(layout: Layout) -> None:
    """Forget the host keys and config of a testbed that is down (the client key stays)."""
    layout.known_hosts.unlink(missing_ok=True)
    layout.ssh_config.unlink(missing_ok=True)


def ssh_argv(layout: Layout, command: Sequence[str] | str) -> list[str]:
    """argv for running `command` on the target. A list is quoted so each item arrives as one arg."""
    remote = command if isinstance(command, str) else shlex.join(command)
    return ["ssh", "-F", str(layout.ssh_config), layout.name, "--", remote]


def ssh_run(
    layout: Layout,
    command: Sequence[str] | str,
    *,
    check: bool = False,
    timeout: float | None = 300,
    capture: bool = True,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command on the target over the pinned SSH connection."""
    if not layout.ssh_config.exists():
        raise TestbedError(f"testbed {layout.name} is not up (no {layout.ssh_config})")
    argv = ssh_argv(layout, command)
    try:
        return subprocess.run(
            argv, check=check, text=True, timeout=timeout, input=input,
            stdin=subprocess.DEVNULL if input is None else None,
            capture_output=capture,
        )
    except subprocess.CalledProcessError as exc:
        raise TestbedError(
            f"on {layout.name}: `{argv[-1]}` exited {exc.returncode}: {(exc.stderr or '').strip()[-2000:]}"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise TestbedError(f"on {layout.name}: `{argv[-1]}` timed out after {timeout}s") from exc


def sshd_answers(address: str, port: int = 22, timeout: float = 1.0) -> bool:
    """True when something at address:port greets with an SSH banner."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            return sock.recv(64).startswith(b"SSH-")
    except OSError:
        return False
