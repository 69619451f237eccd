"""roles.firewall on a simulated host: the ruleset is applied only when it differs from the live one,
and firewall=False removes camgate's table and files and nothing else."""

import pytest

from roles.firewall import firewall

from .harness import SimHost, converge, deploy
from .sites import site

UNIT = "camgate-firewall.service"
UNIT_PATH = f"/etc/systemd/system/{UNIT}"
RULESET = "/etc/camgate/firewall.nft"
STAGED = "/etc/camgate/firewall.nft.staged"
APPLY = "/usr/local/lib/camgate/camgate-firewall-apply"
LOAD = "Check and load the firewall ruleset (nft -c, then one transaction)"


@pytest.fixture
def firewalled() -> SimHost:
    """A host the firewall role has deployed to: ruleset live and loaded, unit enabled and active."""
    first, again = converge(firewall, site(firewall=True))
    assert first.changed and not again.changed
    host = again.host_after()
    assert "camgate" in host.nft_tables and UNIT in host.running & host.enabled
    return host


def test_a_first_deploy_stages_the_ruleset_and_applies_it():
    result = deploy(firewall, site(firewall=True))

    ruleset = result.host_after().content(STAGED)
    assert "table inet camgate" in ruleset
    assert "tcp dport 22 accept" in ruleset  # the port of this deploy's own SSH session
    assert result.op(LOAD).commands == [f"{APPLY} {STAGED} {RULESET}"]
    after = result.host_after()
    assert after.content(RULESET) == ruleset
    assert "camgate" in after.nft_tables


def test_ssh_stays_open_on_the_port_the_deploy_came_in_on_and_from_its_address():
    host = SimHost(ssh_connection="198.51.100.7 51234 10.0.0.5 2222")

    result = deploy(firewall, site(firewall=True, ssh_allow_from=["203.0.113.0/24"]), host)

    ruleset = result.host_after().content(STAGED)
    assert "tcp dport 2222 ip saddr @ssh_v4 accept" in ruleset
    assert "198.51.100.7" in ruleset and "203.0.113.0/24" in ruleset


def test_the_same_ruleset_live_and_loaded_is_not_applied_again(firewalled):
    result = deploy(firewall, site(firewall=True), firewalled)

    assert result.op(LOAD).changed is False
    assert result.changes() == []


def test_a_ruleset_that_differs_from_the_live_one_is_applied(firewalled):
    firewalled.put(RULESET, "table inet camgate { }\n")  # edited by hand

    result = deploy(firewall, site(firewall=True), firewalled)

    assert result.changes() == [LOAD]


def test_a_table_someone_deleted_is_loaded_again(firewalled):
    firewalled.nft_tables.discard("camgate")

    result = deploy(firewall, site(firewall=True), firewalled)

    assert result.changes() == [LOAD]
    assert "camgate" in result.host_after().nft_tables


def test_firewall_false_stops_disables_and_deletes_the_unit_and_unloads_the_table(firewalled):
    firewalled.nft_tables.add("inet-filter-of-the-admin")

    result = deploy(firewall, site(firewall=False), firewalled)

    assert result.op(f"Stop and disable {UNIT}").commands == [f"systemctl stop {UNIT}", f"systemctl disable {UNIT}"]
    assert result.op(f"Delete {UNIT}").commands == [f"rm -f {UNIT_PATH}"]
    assert "systemctl daemon-reload" in result.commands()
    after = result.host_after()
    assert after.nft_tables == {"inet-filter-of-the-admin"}  # ExecStop deleted ours, only ours
    assert UNIT not in after.running | after.enabled
    assert [path for path in (UNIT_PATH, RULESET, STAGED, APPLY) if after.lookup(path)] == []


def test_firewall_false_unloads_the_table_itself_when_the_unit_is_not_running(firewalled):
    firewalled.running.discard(UNIT)

    result = deploy(firewall, site(firewall=False), firewalled)

    assert result.op("Unload table inet camgate").commands == ["nft 'table inet camgate; delete table inet camgate'"]
    assert "camgate" not in result.host_after().nft_tables


def test_firewall_false_on_a_host_without_camgates_firewall_changes_nothing():
    host = SimHost(nft_tables={"filter"}, packages={"nftables": "1.0.6-2+deb12u2"})

    result = deploy(firewall, site(firewall=False), host)

    assert result.changes() == []


def test_firewall_false_is_done_once(firewalled):
    first, again = converge(firewall, site(firewall=False), firewalled)

    assert first.changed
    assert again.changes() == []
