"""The firewall ruleset, its unit and apply script: what is let in, from where, and what is never touched."""

import re

import pytest

from camgate.firewall import (
    LockoutError,
    deployer_address,
    render_apply_script,
    render_ruleset,
    render_unit,
    ruleset_for,
    ssh_sources,
    web_ports,
)
from camgate.model import parse_gateway


def gw(**fields):
    raw = {"domain": "cams.example.com", "acme_email": "ops@example.com", **fields}
    return parse_gateway("gw1", raw)


def statements(text: str) -> list[str]:
    """The lines that are not comments or blank."""
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def input_chain(text: str) -> list[str]:
    body = text.split("chain input {", 1)[1]
    return [line.strip() for line in body.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_firewall_is_on_by_default_and_ssh_open_to_all_without_an_allow_list():
    rules = ruleset_for(gw(), None, "203.0.113.9")
    assert gw().firewall is True
    assert not rules.ssh_restricted and rules.ssh_port == 22
    text = render_ruleset(rules)
    assert "tcp dport 22 accept" in input_chain(text)
    assert "set ssh_v4" not in text and "@ssh_v4" not in text


@pytest.mark.parametrize(
    "env, expected",
    [
        ("203.0.113.9 50022 198.51.100.2 22", "203.0.113.9"),  # $SSH_CONNECTION
        ("203.0.113.9 50022 22", "203.0.113.9"),  # $SSH_CLIENT
        ("2001:db8::7 50022 2001:db8::1 22", "2001:db8::7"),
        ("::ffff:203.0.113.9 50022 ::ffff:198.51.100.2 22", "203.0.113.9"),
        ("fe80::7%eth0 50022 fe80::1%eth0 22", "fe80::7"),
        ("", None),
        (None, None),
        ("not-an-address 1 2 3", None),
    ],
)
def test_deployer_address_comes_from_the_ssh_session(env, expected):
    assert deployer_address(env) == expected


def test_ssh_sources_split_by_family_merge_overlaps_and_always_keep_the_deployer():
    v4, v6 = ssh_sources(("192.0.2.0/24", "198.51.100.0/25", "198.51.100.128/25", "2001:db8::/32"), "203.0.113.9")
    assert v4 == ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.9")
    assert v6 == ("2001:db8::/32",)
    # The deployer inside an allowed network: one element, no overlap (nft refuses overlapping intervals).
    assert ssh_sources(("192.0.2.0/24",), "192.0.2.77") == (("192.0.2.0/24",), ())
    assert ssh_sources(("192.0.2.0/24",), "2001:db8::5") == (("192.0.2.0/24",), ("2001:db8::5",))


def test_allow_list_restricts_ssh_to_the_sets_and_includes_the_deploying_machine():
    gateway = gw(ssh_allow_from=["192.0.2.0/24", "2001:db8::/48"])
    text = render_ruleset(ruleset_for(gateway, 2222, "10.231.5.1"))
    chain = input_chain(text)
    assert "tcp dport 2222 ip saddr @ssh_v4 accept" in chain
    assert "tcp dport 2222 ip6 saddr @ssh_v6 accept" in chain
    assert not any(re.fullmatch(r"tcp dport 2222 accept", line) for line in chain)
    assert "elements = { 10.231.5.1, 192.0.2.0/24 }" in text
    assert "elements = { 2001:db8::/48 }" in text


def test_an_allow_list_without_a_known_deployer_address_refuses_rather_than_risk_a_lockout():
    with pytest.raises(LockoutError, match="ssh_allow_from"):
        ruleset_for(gw(ssh_allow_from=["192.0.2.0/24"]), 22, None)
    ruleset_for(gw(), 22, None)  # no allow list: nothing to lock out


def test_an_empty_address_family_set_is_declared_without_elements():
    text = render_ruleset(ruleset_for(gw(ssh_allow_from=["192.0.2.0/24"]), 22, "192.0.2.1"))
    v6 = text.split("set ssh_v6 {", 1)[1].split("}", 1)[0]
    assert "elements" not in v6 and "type ipv6_addr" in v6


@pytest.mark.parametrize(
    "fields, ports",
    [
        ({}, (80, 443)),
        ({"https_port": 8443}, (80, 8443)),
        ({"http_port": 8080, "https_port": 8443}, (80, 8080, 8443)),
        ({"tls": "off", "acme_email": None}, (80,)),
        ({"tls": "off", "acme_email": None, "http_port": 8080}, (80, 8080)),
    ],
)
def test_web_ports_follow_the_gateway(fields, ports):
    assert web_ports(gw(**fields)) == ports


def test_ruleset_replaces_only_our_table_atomically_and_drops_everything_else_inbound():
    text = render_ruleset(ruleset_for(gw(), None, None))
    lines = statements(text)
    assert lines[:3] == ["table inet camgate", "delete table inet camgate", "table inet camgate {"]
    assert not any("flush" in line for line in lines)
    assert set(re.findall(r"\btable (\S+) (\S+)", "\n".join(lines))) == {("inet", "camgate")}
    chain = input_chain(text)
    assert chain[0] == "type filter hook input priority filter; policy drop;"
    assert chain[1:4] == ['iif "lo" accept', "ct state established,related accept", "ct state invalid drop"]
    # The only ports let in: SSH, the web ports and the DHCPv6 client (from link-local servers).
    assert [line for line in chain if "dport" in line] == [
        "ip6 saddr fe80::/10 udp dport 546 accept",
        "tcp dport 22 accept",
        "tcp dport { 80, 443 } accept",
    ]
    assert [line for line in chain if line.endswith(" accept") and "dport" not in line and "icmp" not in line] == [
        'iif "lo" accept',
        "ct state established,related accept",
    ]
    assert text.count("hook ") == 1  # forward and output untouched


def test_icmp_needed_for_path_mtu_and_ipv6_is_accepted_and_ping_is_rate_limited():
    chain = "\n".join(input_chain(render_ruleset(ruleset_for(gw(), None, None))))
    assert "icmp type { destination-unreachable, time-exceeded, parameter-problem } accept" in chain
    assert "packet-too-big" in chain
    assert re.search(r"icmpv6 type \{ nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert.*\} ip6 hoplimit 255 accept", chain)
    assert re.search(r"^icmp type echo-request limit rate .* accept$", chain, re.MULTILINE)
    assert re.search(r"^icmpv6 type echo-request limit rate .* accept$", chain, re.MULTILINE)


def test_unit_loads_at_boot_before_the_network_and_stops_by_deleting_only_our_table():
    unit = statements(render_unit())
    for line in (
        "Type=oneshot",
        "RemainAfterExit=yes",
        "Wants=network-pre.target",
        "DefaultDependencies=no",
        "ExecStart=/usr/sbin/nft -f /etc/camgate/firewall.nft",
        "ExecReload=/usr/sbin/nft -f /etc/camgate/firewall.nft",
        'ExecStop=/usr/sbin/nft "table inet camgate; delete table inet camgate"',
        "WantedBy=sysinit.target",
    ):
        assert line in unit
    before = next(line for line in unit if line.startswith("Before="))
    assert "network-pre.target" in before.split("=", 1)[1].split()
    assert not any("flush" in line or "nftables.conf" in line for line in unit)


def test_apply_script_checks_before_it_loads_and_only_then_replaces_the_live_file():
    script = render_apply_script()
    assert script.startswith("#!/bin/bash") and "set -euo pipefail" in script
    check = script.index('/usr/sbin/nft -c -f "$staged"')
    load = script.index('/usr/sbin/nft -f "$live.camgate-new"')
    replace = script.index('mv -f "$live.camgate-new" "$live"')
    assert check < load < replace


def test_the_firewall_keeps_the_port_sshd_accepted_this_session_on():
    from camgate.firewall import session_ssh_port

    assert session_ssh_port("10.0.2.2 51000 10.0.2.15 22") == 22  # forwarded from 2222 outside
    assert session_ssh_port("203.0.113.9 51000 198.51.100.7 2200") == 2200
    assert session_ssh_port("") is None and session_ssh_port("10.0.2.2 51000 22") is None


def test_the_metrics_port_is_open_to_metrics_from_only_and_closed_without_it():
    closed = input_chain(render_ruleset(ruleset_for(gw(), 22, None)))
    assert not [line for line in closed if "9100" in line]
    fields = {"metrics_from": ["198.51.100.7", "198.51.100.0/28", "2001:db8::/48"], "metrics_password_ref": "secret:metrics"}
    chain = input_chain(render_ruleset(ruleset_for(gw(**fields), 22, None)))
    # 198.51.100.7 lies in the /28: nft would refuse the overlap, so it is merged away.
    assert [line for line in chain if "9100" in line] == [
        "tcp dport 9100 ip saddr { 198.51.100.0/28 } accept",
        "tcp dport 9100 ip6 saddr { 2001:db8::/48 } accept",
    ]
