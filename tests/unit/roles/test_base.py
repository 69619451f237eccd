"""roles.base on a simulated host: a release without njs stops the deploy before its first operation."""

import pytest
from pyinfra.api.exceptions import DeployError

from roles.base import base
from roles.cameras import cameras

from .harness import NOW, Entry, SimHost, Simulation, converge, deploy
from .sites import HOST, site


@pytest.mark.parametrize("distro", [("ubuntu", "22.04"), ("ubuntu", "20.04"), ("debian", "11")])
def test_a_release_without_njs_stops_the_deploy_before_any_operation(distro):
    distro_id, release = distro
    simulation = Simulation(site(), SimHost(distro=distro))

    with pytest.raises(DeployError) as raised:
        simulation.run(base, cameras)

    message = str(raised.value)
    assert f"host {HOST!r}: {distro_id} {release} ships no njs module" in message
    assert "fix: use Debian 12 or Ubuntu 24.04 (or newer)" in message
    assert simulation.declared() == []
    assert simulation.steps == {}


@pytest.mark.parametrize("distro", [("debian", "12"), ("ubuntu", "24.04"), ("debian", "13")])
def test_a_release_with_njs_proceeds(distro):
    result = deploy(base, site(), SimHost(distro=distro))

    assert result.changes()[0] == "Refresh apt lists (at most hourly)"
    assert "User camgate" in result.changes()


@pytest.mark.parametrize("minutes_ago, refreshed", [(59, False), (61, True)])
def test_apt_lists_are_refreshed_when_older_than_an_hour(minutes_ago, refreshed):
    host = SimHost()
    host._add("/var/lib/apt/periodic/update-success-stamp", Entry("file", mtime=int(NOW.timestamp()) - minutes_ago * 60))

    result = deploy(base, site(), host)

    assert ("Refresh apt lists (at most hourly)" in result.changes()) == refreshed


def test_base_is_done_once():
    first, again = converge(base, site())

    assert first.changed
    assert again.changes() == []


def test_hide_processes_false_removes_the_hidepid_unit_it_left():
    _, settled = converge(base, site(hide_processes=True))

    result = deploy(base, site(hide_processes=False), settled.host_after())

    assert result.changes() == ["Show processes again", "Remove camgate-hidepid.service"]
    assert result.host_after().lookup("/etc/systemd/system/camgate-hidepid.service") is None
