"""Firewall: an nftables table of camgate's own lets in SSH, HTTP and HTTPS and drops everything else."""


from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import files, server, systemd

from camgate import packages, paths
from camgate.firewall import (
    deployer_address,
    render_apply_script,
    render_ruleset,
    render_unit,
    ruleset_for,
    session_ssh_port,
)
from camgate.inventory import site_from_host
from camgate.render import sha1
from roles.facts import NftTableLoaded, SshConnection, before, known_file_state, running_before
from roles.operations import ensure_packages, ensure_running, put_many


@deploy("camgate firewall")
def firewall() -> None:
    """Guarantees, with firewall=True: nftables installed; `table inet camgate` loaded with an input
    chain of policy drop that accepts loopback, established/related traffic, the ICMP/ICMPv6 that IPv4
    and IPv6 need (errors, path MTU, neighbour discovery, rate-limited ping), DHCPv6 replies, TCP to
    the SSH port pyinfra uses (only from ssh_allow_from plus this deploy's own address when that is
    set) and TCP 80, http_port and https_port; every other inbound packet is dropped. Other tables,
    forward and output are never touched. A new ruleset is checked with `nft -c` and replaces the old
    one in one transaction (established connections survive); it is reloaded only when it changed
    or is not loaded. camgate-firewall.service loads it at boot, before the network comes up.
    With firewall=False: the unit stopped, disabled and deleted, our table and files gone.
    Reads: firewall, ssh_allow_from, http_port, https_port, tls, WebRTC ports, metrics_from, metrics_port;
    host data ssh_port."""
    gateway = site_from_host(host)
    if not gateway.firewall:
        remove_firewall()
        return

    session = before(SshConnection)
    # The port sshd really listens on inside the host, else the one pyinfra was told to use.
    ssh_port = session_ssh_port(session) or host.data.get("ssh_port")
    ruleset = ruleset_for(gateway, ssh_port, deployer_address(session))
    text = render_ruleset(ruleset)

    ensure_packages("Install nftables", packages.NFTABLES)
    ops = put_many("Firewall files", [
        ("Firewall apply script", paths.FIREWALL_APPLY, render_apply_script(), "0755", "root", "root"),
        (f"Unit {paths.FIREWALL_SERVICE}", paths.unit_path(paths.FIREWALL_SERVICE), render_unit(), "0644", "root", "root"),
        ("Stage the firewall ruleset", paths.FIREWALL_STAGED, text, "0644", "root", "root"),
    ])
    systemd.daemon_reload(name="Reload systemd units", _if=ops[paths.unit_path(paths.FIREWALL_SERVICE)].did_change)
    # Compared with what is live and loaded (not with the staged copy), so an interrupted deploy, or a
    # table someone deleted by hand, still converges.
    live = known_file_state(paths.FIREWALL_RULESET)[1]
    stale = live is None or not live.endswith(sha1(text)) or not before(NftTableLoaded, table=paths.FIREWALL_TABLE)
    server.shell(
        name="Check and load the firewall ruleset (nft -c, then one transaction)",
        commands=[f"{paths.FIREWALL_APPLY} {paths.FIREWALL_STAGED} {paths.FIREWALL_RULESET}"],
        _if=lambda: stale,
    )
    ensure_running(f"{paths.FIREWALL_SERVICE} enabled (loads the rules at boot)", paths.FIREWALL_SERVICE)


def remove_firewall() -> None:
    """firewall=False: stop and delete our unit, unload our table, delete our files; nothing else."""
    unit_exists = known_file_state(paths.unit_path(paths.FIREWALL_SERVICE))[1] is not None
    unit_active = running_before(paths.FIREWALL_SERVICE)
    if unit_exists:
        # Stopping an active unit runs ExecStop, which deletes only our table.
        systemd.service(name=f"Stop and disable {paths.FIREWALL_SERVICE}", service=paths.FIREWALL_SERVICE, running=False, enabled=False)
        removed = files.file(name=f"Delete {paths.FIREWALL_SERVICE}", path=paths.unit_path(paths.FIREWALL_SERVICE), present=False)
        systemd.daemon_reload(name="Reload systemd units", _if=removed.did_change)
    if before(NftTableLoaded, table=paths.FIREWALL_TABLE) and not (unit_exists and unit_active):
        server.shell(
            name=f"Unload table inet {paths.FIREWALL_TABLE}",
            commands=[f"nft 'table inet {paths.FIREWALL_TABLE}; delete table inet {paths.FIREWALL_TABLE}'"],
        )
    for path in (paths.FIREWALL_RULESET, paths.FIREWALL_STAGED, paths.FIREWALL_APPLY):
        files.file(name=f"Delete {path}", path=path, present=False)
