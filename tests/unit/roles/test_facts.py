"""roles.facts: several facts in one round trip read exactly what each would have read alone."""

import pytest
from pyinfra.api.exceptions import FactProcessError
from pyinfra.facts.server import Groups

from roles.facts import Accounts, Asked, Certificate, EnabledUnits, PathStates, Together


def together(*requests: Asked) -> Together:
    fact = Together()
    fact.command(requests=requests)
    return fact


def test_facts_asked_together_are_each_parsed_by_their_own_fact():
    fact = together(
        Asked(Groups),
        Asked(Certificate, (("path", "/etc/camgate/tls/selfsigned/fullchain.pem"),)),
        Asked(PathStates, (("paths", ("/etc/camgate", "/nowhere")),)),
    )
    end = f"{Together.END} 0"

    groups, certificate, states = fact.process(
        ["root:x:0:", "camgate:x:998:", end, Together.MISSING, end, "/etc/camgate\td 755 root root", "--", end]
    )

    assert groups == ["root", "camgate"]
    assert certificate is None  # no openssl yet: the default, as pyinfra gives it while preparing
    assert states == {"/etc/camgate": "directory 755 root root"}


def test_a_fact_whose_command_fails_fails_them_all_as_it_would_alone():
    fact = together(Asked(Groups), Asked(EnabledUnits))

    with pytest.raises(FactProcessError, match=r"EnabledUnits failed \(exit status 1\)"):
        fact.process(["root:x:0:", f"{Together.END} 0", f"{Together.END} 1"])


def test_enabled_units_are_those_systemctl_show_calls_enabled_or_static():
    states = EnabledUnits().process([
        "camgate-camera-front.service enabled enabled", "camgate-health.service static -", "nginx.service disabled enabled",
        "camgate-camera-old.service masked enabled", "certbot.timer indirect enabled",
    ])  # fmt: skip

    assert [unit for unit, enabled in states.items() if enabled] == ["camgate-camera-front.service", "camgate-health.service"]


def test_accounts_give_each_user_its_primary_group_by_gid_and_its_supplementary_groups():
    output = [
        "root:x:0:0:root:/root:/bin/bash",
        "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin",
        "camgate:x:998:997::/nonexistent:/usr/sbin/nologin",
        "--",
        "root:x:0:",
        "www-data:x:33:",
        "camgate:x:997:www-data,janus",
        "adm:x:4:syslog,www-data",
    ]
    accounts = Accounts().process(output)
    assert accounts["camgate"] == {"home": "/nonexistent", "shell": "/usr/sbin/nologin", "group": "camgate", "groups": ["camgate"]}
    assert accounts["www-data"]["groups"] == ["adm", "camgate", "www-data"]  # nginx reads HLS as a member of camgate
    assert accounts["root"]["group"] == "root"
