"""roles.webrtc on a simulated host whose apt sources have no janus (Debian 13): a gateway with WebRTC
cameras is refused before anything changes; one without WebRTC deploys and converges."""

from pathlib import Path

import pytest
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.hardware import NetworkDevices

import roles

from .harness import DeployFailed, SimHost, Simulation, _split_name, converge, deploy_file
from .sites import HOST, cam, site

DEPLOY = deploy_file(Path(roles.__file__).resolve().parent.parent / "deploy.py")
TRIXIE = ("debian", "13")
INTERFACES = {"lo": {"ipv4": {"address": "127.0.0.1"}}, "eth0": {"ipv4": {"address": "192.0.2.10"}}}


def host(**fields) -> SimHost:
    """A bare host with an address (coturn's role reads the interfaces)."""
    return SimHost(extra_facts={NetworkDevices: INTERFACES}, **fields)


def test_webrtc_cameras_on_a_host_without_janus_stop_the_deploy_before_any_operation(passwords):
    simulation = Simulation(site(cam("front", webrtc="main"), cam("back", 21)), host(distro=TRIXIE))

    with pytest.raises(DeployError) as raised:
        simulation.run(DEPLOY)

    message = str(raised.value)
    assert f"host {HOST!r}: cameras front have WebRTC on, but the host's apt sources have no janus" in message
    assert "fix: set webrtc='off' for them" in message
    assert simulation.steps == {}


def test_a_bare_host_without_apt_lists_is_checked_after_the_apt_refresh_before_any_webrtc_change(passwords):
    simulation = Simulation(site(cam("front", webrtc="main")), host(distro=TRIXIE, apt_lists=False))

    with pytest.raises(DeployFailed, match=r"'Janus available from apt \(checked after the first apt refresh\)' failed"):
        simulation.run(DEPLOY)

    # Every operation that touched the host ran before the check; none of them was WebRTC's.
    ran = [_split_name(simulation.state.op_meta[h].names)[1] for h in simulation.state.get_op_order() if h in simulation.steps]
    check = "Janus available from apt (checked after the first apt refresh)"
    assert ran[-1] == check
    assert "Refresh apt lists (at most hourly)" in ran
    assert not [name for name in ran[:-1] if "anus" in name or "WebRTC" in name or "coturn" in name]


def test_without_webrtc_cameras_a_debian_13_host_deploys_and_converges(passwords):
    cameras = (cam("front", record=True), cam("back", 21, encrypt=True))
    first, again = converge(DEPLOY, site(*cameras), host(distro=TRIXIE, apt_lists=False))

    assert "Install the gateway's packages" in first.changes()
    assert not [name for name in first.changes() if "anus" in name]
    assert again.changes() == []


def test_a_host_whose_archive_has_janus_is_not_checked_again(passwords):
    first, _ = converge(DEPLOY, site(cam("front", webrtc="main")), host(apt_lists=False))

    assert "Janus available from apt (checked after the first apt refresh)" in first.changes()
    assert "Install Janus" in first.changes()
