"""The gateway's host firewall: what it lets in, worked out on the machine running pyinfra.

roles/firewall.py uploads what :func:`render_ruleset` returns; the unit tests check the same text.
Everything here is pure: the only input from the host is the SSH client address of the deploy's own
session (``$SSH_CONNECTION``), which :func:`deployer_address` parses.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from camgate.model import Edge, Gateway
from camgate.render import render

DEFAULT_SSH_PORT = 22

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class LimitedPort:
    """A TCP port open to these sources only."""

    purpose: str
    port: int
    v4: tuple[str, ...]
    v6: tuple[str, ...]


@dataclass(frozen=True)
class Ruleset:
    """What the input chain accepts besides loopback, established traffic and the ICMP it needs."""

    ssh_port: int
    web_ports: tuple[int, ...]
    # None: SSH from anywhere. A tuple (possibly empty): only from these networks.
    ssh_v4: tuple[str, ...] | None
    ssh_v6: tuple[str, ...] | None
    # With WebRTC cameras: camgate-webrtc's ICE ports (UDP), coturn's TURN port (UDP and TCP), TURN over TLS
    # (TCP, with HTTPS only) and coturn's relay ports (UDP); ranges as "LOW-HIGH" text.
    udp_ports: tuple[str, ...] = ()
    tcp_ports: tuple[str, ...] = ()
    # TCP ports open to a few sources only: the metrics port to metrics_from, the origin port to the
    # gateway's edges.
    limited: tuple[LimitedPort, ...] = ()

    @property
    def ssh_restricted(self) -> bool:
        return self.ssh_v4 is not None


def deployer_address(ssh_connection: str | None) -> str | None:
    """The client address of an SSH session from ``$SSH_CONNECTION`` ("client port server port") or
    ``$SSH_CLIENT`` ("client port server-port"); None when empty or not an address. IPv4-mapped IPv6
    addresses come back as IPv4 and a zone ("fe80::1%eth0") is dropped, since nft sets hold neither."""
    fields = (ssh_connection or "").split()
    if not fields:
        return None
    text = fields[0].split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def session_ssh_port(ssh_connection: str | None) -> int | None:
    """The port sshd accepted this deploy's session on ($SSH_CONNECTION's last field): the port the
    host's firewall must keep open, even when the deploy came through a forwarded port (Vagrant's
    2222, NAT)."""
    fields = (ssh_connection or "").split()
    if len(fields) == 4 and fields[3].isdigit() and 0 < int(fields[3]) < 65536:
        return int(fields[3])
    return None


def web_ports(gateway: Gateway | Edge) -> tuple[int, ...]:
    """Port 80 always (ACME HTTP-01 and the redirect), http_port, and https_port unless tls='off'."""
    ports = {80, gateway.http_port}
    if gateway.https:
        ports.add(gateway.https_port)
    return tuple(sorted(ports))


def _element(network: Network) -> str:
    """A set element: a plain address for a single host, CIDR otherwise."""
    return str(network.network_address) if network.num_addresses == 1 else str(network)


def ssh_sources(allow_from: tuple[str, ...] | list[str], deployer: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The (IPv4, IPv6) elements of the SSH sets: `allow_from` plus the deploying machine's address."""
    return set_elements([*allow_from, *([deployer] if deployer else [])])


def set_elements(sources: list[str] | tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The (IPv4, IPv6) elements of an nft set of these addresses/networks, with overlaps and
    neighbours merged (nft refuses overlapping elements in an interval set)."""
    networks = [ipaddress.ip_network(item, strict=False) for item in sources]
    v4 = [n for n in networks if n.version == 4]
    v6 = [n for n in networks if n.version == 6]
    return (
        tuple(_element(n) for n in ipaddress.collapse_addresses(v4)),
        tuple(_element(n) for n in ipaddress.collapse_addresses(v6)),
    )


class LockoutError(ValueError):
    """Restricting SSH without knowing where this deploy comes from could lock the deployer out."""


def ruleset_for(gateway: Gateway | Edge, ssh_port: int | None, deployer: str | None) -> Ruleset:
    """The ruleset for a gateway reached on `ssh_port` by a deploy coming from `deployer`.

    With ssh_allow_from set and the deploy's own address unknown, refuse (LockoutError) rather than
    write rules that might drop the next SSH session."""
    if gateway.ssh_allow_from and deployer is None:
        raise LockoutError(
            f"host {gateway.host!r}: field 'ssh_allow_from': cannot tell which address this deploy connects "
            "from ($SSH_CONNECTION is empty on the host), so restricting SSH could lock the next deploy out; "
            "fix: deploy over SSH, or leave ssh_allow_from empty"
        )
    v4 = v6 = None
    if gateway.ssh_allow_from:
        v4, v6 = ssh_sources(gateway.ssh_allow_from, deployer)
    udp, tcp = webrtc_ports(gateway)
    return Ruleset(
        ssh_port=ssh_port or DEFAULT_SSH_PORT, web_ports=web_ports(gateway), ssh_v4=v4, ssh_v6=v6, udp_ports=udp, tcp_ports=tcp,
        limited=limited_ports(gateway),
    )  # fmt: skip


def limited_ports(site: Gateway | Edge) -> tuple[LimitedPort, ...]:
    """Prometheus's metrics port from metrics_from; a gateway's origin port from its edges."""
    limited = []
    if site.metrics:
        limited.append(LimitedPort("Prometheus: the metrics port from metrics_from only", site.metrics_port, *set_elements(site.metrics_from)))
    if isinstance(site, Gateway) and site.edges:
        sources = set_elements([edge.address for edge in site.edges])
        limited.append(LimitedPort("Caching edges: the origin port from the edges' addresses only", site.origin_port, *sources))
    return tuple(limited)


def webrtc_ports(gateway: Gateway | Edge) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(UDP, TCP) ports WebRTC viewers need, none while no camera has webrtc on (docs/firewall.md)."""
    if not gateway.webrtc_cameras:
        return (), ()
    udp = (gateway.webrtc_ports, str(gateway.turn_port), gateway.turn_relay_ports)
    tcp = (str(gateway.turn_port),) + ((str(gateway.turns_port),) if gateway.https else ())
    return udp, tcp


def render_ruleset(ruleset: Ruleset) -> str:
    return render("nftables/camgate.nft.j2", rules=ruleset)


def render_unit() -> str:
    return render("systemd/camgate-firewall.service.j2")


def render_apply_script() -> str:
    return render("bin/camgate-firewall-apply.j2")
