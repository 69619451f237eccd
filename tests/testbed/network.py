"""The target's network: its own network namespace, a veth pair with a /30, and NAT for apt.

Traffic rules (kept deliberately narrow): the host reaches the target directly over the veth; the
target reaches the host-side veth address (fake cameras) directly; everything the target sends
further is forwarded only when it is DNS to the host's own resolvers or HTTP(S) to a public address
(the Debian archive for apt), masqueraded behind the host. Nothing else leaves the namespace.
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import TestbedError
from .layout import Layout
from .proc import run, try_run

IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
# Shared by all testbeds on this machine: the ip_forward value from before the first one came up.
SHARED_RUN_DIR = Path("/run/camgate-testbed")
SAVED_IP_FORWARD = SHARED_RUN_DIR / "ip_forward.orig"
# Users of forwarding that have no network namespace (the Vagrant VM's NAT): one file each.
FORWARDING_HOLDERS = SHARED_RUN_DIR / "holders"
NETNS_NAME_RE = re.compile(r"^camgate-tb\d+$")
PRIVATE_V4 = "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10, 169.254.0.0/16, 127.0.0.0/8"


def setup(layout: Layout) -> None:
    """Create netns, veth pair, addresses, routes, NAT table and enable forwarding."""
    create_netns(layout)
    create_veth(layout)
    install_nat(layout)
    enable_ip_forward()


def teardown(layout: Layout) -> None:
    """Remove everything setup() creates; each step tolerates the thing being absent already."""
    try_run(["ip", "link", "del", layout.veth_host])  # deleting one end removes the peer too
    try_run(["ip", "netns", "del", layout.netns])
    Path(f"/run/netns/{layout.netns}").unlink(missing_ok=True)
    try_run(["nft", "delete", "table", "ip", layout.nft_table])
    if not other_testbeds_up(layout):
        restore_ip_forward()


def is_up(layout: Layout) -> bool:
    return Path(f"/run/netns/{layout.netns}").exists()


def create_netns(layout: Layout) -> None:
    run(["ip", "netns", "add", layout.netns], what=f"creating network namespace {layout.netns}")
    run(["ip", "-n", layout.netns, "link", "set", "lo", "up"], what="bringing up lo in the netns")


def create_veth(layout: Layout) -> None:
    ns = layout.netns
    run(
        ["ip", "link", "add", layout.veth_host, "type", "veth",
         "peer", "name", layout.veth_target, "netns", ns],
        what=f"creating veth pair {layout.veth_host}/{layout.veth_target}",
    )
    run(["ip", "addr", "add", f"{layout.host_address}/30", "dev", layout.veth_host],
        what="addressing the host side of the veth")
    run(["ip", "link", "set", layout.veth_host, "up"], what="bringing up the host veth")
    run(["ip", "-n", ns, "addr", "add", f"{layout.target_address}/30", "dev", layout.veth_target],
        what="addressing the target side of the veth")
    run(["ip", "-n", ns, "link", "set", layout.veth_target, "up"], what="bringing up the target veth")
    run(["ip", "-n", ns, "route", "add", "default", "via", layout.host_address],
        what="adding the target's default route")


def host_resolvers() -> list[str]:
    """IPv4 nameservers of the host (the container gets a copy of its resolv.conf)."""
    servers = []
    try:
        text = Path("/etc/resolv.conf").read_text()
    except OSError:
        return servers
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver" and re.fullmatch(r"[\d.]+", parts[1]):
            servers.append(parts[1])
    return servers


def nat_ruleset(layout: Layout) -> str:
    """The nft table: masquerade the /30, and forward only DNS (to the host's resolvers) and HTTP(S)."""
    subnet = f"{layout.subnet}/30"
    veth = layout.veth_host
    resolvers = host_resolvers()
    dns_rules = ""
    if resolvers:
        dns = ", ".join(resolvers)
        dns_rules = (
            f'    iifname "{veth}" ip daddr {{ {dns} }} udp dport 53 accept\n'
            f'    iifname "{veth}" ip daddr {{ {dns} }} tcp dport 53 accept\n'
        )
    return (
        f"table ip {layout.nft_table} {{\n"
        f"  chain forward {{\n"
        f"    type filter hook forward priority filter; policy accept;\n"
        f'    oifname "{veth}" ip daddr {subnet} ct state established,related accept\n'
        f'    oifname "{veth}" drop\n'
        f"{dns_rules}"
        f'    iifname "{veth}" ip daddr {{ {PRIVATE_V4} }} drop\n'
        f'    iifname "{veth}" ip saddr {subnet} tcp dport {{ 80, 443 }} accept\n'
        f'    iifname "{veth}" drop\n'
        f"  }}\n"
        f"  chain postrouting {{\n"
        f"    type nat hook postrouting priority srcnat; policy accept;\n"
        f'    ip saddr {subnet} oifname != "{veth}" masquerade\n'
        f"  }}\n"
        f"}}\n"
    )


def install_nat(layout: Layout) -> None:
    try_run(["nft", "delete", "table", "ip", layout.nft_table])
    run(["nft", "-f", "-"], input=nat_ruleset(layout), what=f"installing nft table {layout.nft_table}")


def enable_ip_forward() -> None:
    """Set net.ipv4.ip_forward=1, remembering the previous value once for all testbeds."""
    SHARED_RUN_DIR.mkdir(parents=True, exist_ok=True)
    current = IP_FORWARD.read_text().strip()
    if not SAVED_IP_FORWARD.exists():
        SAVED_IP_FORWARD.write_text(current + "\n")
    if current != "1":
        try:
            IP_FORWARD.write_text("1\n")
        except OSError as exc:
            raise TestbedError(f"cannot enable {IP_FORWARD}: {exc}") from exc


def restore_ip_forward() -> None:
    """Put back the ip_forward value from before the first testbed came up (if we changed it)."""
    if not SAVED_IP_FORWARD.exists():
        return
    saved = SAVED_IP_FORWARD.read_text().strip()
    if saved in ("0", "1") and IP_FORWARD.read_text().strip() != saved:
        IP_FORWARD.write_text(saved + "\n")
    SAVED_IP_FORWARD.unlink(missing_ok=True)
    try:
        SHARED_RUN_DIR.rmdir()
    except OSError:
        pass


def other_testbeds_up(layout: Layout) -> bool:
    """True if a testbed other than this one still has its network namespace, or another user of
    forwarding holds it (hold_ip_forward)."""
    netns_dir = Path("/run/netns")
    if FORWARDING_HOLDERS.is_dir() and any(FORWARDING_HOLDERS.iterdir()):
        return True
    if not netns_dir.is_dir():
        return False
    return any(
        NETNS_NAME_RE.match(entry.name) and entry.name != layout.netns for entry in netns_dir.iterdir()
    )


def hold_ip_forward(holder: str) -> None:
    """Enable forwarding for `holder` (a VM behind libvirt's NAT): no testbed going down turns it off
    while held."""
    enable_ip_forward()
    FORWARDING_HOLDERS.mkdir(parents=True, exist_ok=True)
    (FORWARDING_HOLDERS / holder).touch()


def release_ip_forward(holder: str) -> None:
    """Drop `holder`'s hold; the last user of forwarding puts back the value from before."""
    (FORWARDING_HOLDERS / holder).unlink(missing_ok=True)
    try:
        FORWARDING_HOLDERS.rmdir()
    except OSError:
        return  # another holder remains
    netns_dir = Path("/run/netns")
    if not (netns_dir.is_dir() and any(NETNS_NAME_RE.match(entry.name) for entry in netns_dir.iterdir())):
        restore_ip_forward()


def link(client: Layout, server: Layout, port: int) -> None:
    """Let `client`'s target open TCP connections to `server`'s target on `port`, unmasqueraded (the
    server sees the client's own address, as a gateway sees its edge). Each testbed's table drops
    traffic between testbeds, so both get rules, inserted ahead of their drops; they go with the
    tables when either testbed comes down."""
    client_table, server_table = client.nft_table, server.nft_table
    rules = [
        f"insert rule ip {client_table} forward iifname \"{client.veth_host}\" ip daddr {server.target_address} tcp dport {port} accept",
        f"insert rule ip {client_table} postrouting ip saddr {client.target_address} ip daddr {server.target_address} accept",
        f"insert rule ip {server_table} forward oifname \"{server.veth_host}\" ip saddr {client.target_address} "
        f"ip daddr {server.target_address} tcp dport {port} accept",
        f"insert rule ip {server_table} forward iifname \"{server.veth_host}\" ip daddr {client.target_address} ct state established,related accept",
    ]
    run(["nft", "-f", "-"], input="\n".join(rules) + "\n", what=f"linking {client.name} to {server.name}:{port}")
