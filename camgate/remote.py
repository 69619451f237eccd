"""SSH from the CLI to a gateway (paramiko), with the same connection settings pyinfra uses.

Host keys are always checked: from `ssh_known_hosts_file` when the inventory pins one, else from
~/.ssh/known_hosts. An unknown host is refused, never trusted on first use.
"""

from __future__ import annotations

import select
import shlex
import socket
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import paramiko

from camgate import paths
from camgate.model import Gateway
from camgate.secrets import resolve_secret
from camgate.signing import parse_link_secret_conf


class RemoteError(RuntimeError):
    """Connecting or running a command on a gateway failed; the message says what and the fix."""


@dataclass(frozen=True)
class SshTarget:
    name: str
    hostname: str
    port: int = 22
    user: str | None = None
    key: str | None = None
    known_hosts: str | None = None

    @classmethod
    def from_host_data(cls, name: str, data: dict[str, Any]) -> "SshTarget":
        return cls(
            name=name,
            hostname=data.get("ssh_hostname") or name,
            port=int(data.get("ssh_port") or 22),
            user=data.get("ssh_user"),
            key=data.get("ssh_key"),
            known_hosts=data.get("ssh_known_hosts_file"),
        )


def connect(target: SshTarget, timeout: float = 10.0) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    if target.known_hosts:
        client.load_host_keys(str(Path(target.known_hosts).expanduser()))
    else:
        client.load_system_host_keys()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(
            target.hostname,
            port=target.port,
            username=target.user,
            key_filename=str(Path(target.key).expanduser()) if target.key else None,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
        )
    except paramiko.SSHException as exc:
        if "not found in known_hosts" in str(exc):
            raise RemoteError(
                f"{target.name}: host key of {target.hostname} is not known; fix: connect once with ssh "
                "and check its fingerprint, or set ssh_known_hosts_file in the inventory"
            ) from exc
        raise RemoteError(f"{target.name}: SSH to {target.hostname}:{target.port} failed: {exc}") from exc
    except OSError as exc:
        raise RemoteError(f"{target.name}: cannot reach {target.hostname}:{target.port}: {exc}") from exc
    return client


def run(
    client: paramiko.SSHClient, argv: list[str] | str, timeout: float = 60.0, input: str | None = None
) -> tuple[int, str, str]:
    """Run argv (quoted; or a shell command string) on the gateway, optionally feeding `input` on
    stdin (how secrets travel: never in a command line); return (exit status, stdout, stderr)."""
    command = argv if isinstance(argv, str) else shlex.join(argv)
    stdin, stdout, stderr = client.exec_command(command, timeout=timeout)
    if input is not None:
        stdin.write(input)
        stdin.channel.shutdown_write()
    out = stdout.read().decode(errors="replace")
    err = stderr.read().decode(errors="replace")
    return stdout.channel.recv_exit_status(), out, err


@contextmanager
def tunnel(client: paramiko.SSHClient, host: str, port: int) -> Iterator[int]:
    """A port on this machine's loopback whose connections reach host:port from the gateway (SSH
    direct-tcpip, like `ssh -L`): how the CLI talks to a camera on the gateway's private network."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    stop = threading.Event()
    transport = client.get_transport()

    def serve() -> None:
        while not stop.is_set():
            try:
                local, peer = listener.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            try:
                channel = transport.open_channel("direct-tcpip", (host, port), peer, timeout=10)
            except (paramiko.SSHException, OSError):
                local.close()  # the client sees the connection refused, as it would without the tunnel
                continue
            threading.Thread(target=_relay, args=(local, channel, stop), daemon=True).start()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()
        server.join(timeout=2)


def _relay(local: socket.socket, channel: paramiko.Channel, stop: threading.Event) -> None:
    """Copy bytes both ways until either side closes."""
    try:
        while not stop.is_set():
            readable, _, _ = select.select([local, channel], [], [], 0.5)
            for source, sink in ((local, channel), (channel, local)):
                if source in readable:
                    data = source.recv(65536)
                    if not data:
                        return
                    sink.sendall(data)
    except OSError:
        return
    finally:
        channel.close()
        local.close()


def read_file(client: paramiko.SSHClient, path: str, target_name: str) -> str:
    status, out, err = run(client, ["cat", "--", path])
    if status != 0:
        raise RemoteError(f"{target_name}: cannot read {path}: {err.strip() or f'exit {status}'}")
    return out


def link_secret(gateway: Gateway, host_data: dict[str, Any]) -> str:
    """The gateway's URL signing secret: from the secrets store, else read from the gateway over SSH."""
    if gateway.url_secret_ref:
        return resolve_secret(gateway.url_secret_ref, gateway.secrets_file)
    with connect(SshTarget.from_host_data(gateway.host, host_data)) as client:
        secret = parse_link_secret_conf(read_file(client, paths.LINK_SECRET_CONF, gateway.host))
    if secret is None:
        raise RemoteError(f"{gateway.host}: {paths.LINK_SECRET_CONF} holds no signing secret; fix: re-run the deploy")
    return secret
