"""roles.webrtc on simulated hosts: WebRTC cameras deploy on Debian 13 as on Debian 12 (the engine is
GStreamer, which both archives have; Janus is in neither Debian 13 nor camgate any more), the
service reloads for new users and restarts for new code, and a gateway that an earlier camgate gave
Janus is rid of it."""

from pathlib import Path

from pyinfra.facts.hardware import NetworkDevices

import roles
from camgate import paths
from camgate.passwords import hash_password

from .harness import SimHost, converge, deploy_file
from .sites import cam, site

DEPLOY = deploy_file(Path(roles.__file__).resolve().parent.parent / "deploy.py")
TRIXIE = ("debian", "13")
INTERFACES = {"lo": {"ipv4": {"address": "127.0.0.1"}}, "eth0": {"ipv4": {"address": "192.0.2.10"}}}


def host(**fields) -> SimHost:
    """A bare host with an address (coturn's role reads the interfaces)."""
    return SimHost(extra_facts={NetworkDevices: INTERFACES}, **fields)


def test_webrtc_cameras_deploy_on_debian_13_and_converge(passwords):
    first, again = converge(DEPLOY, site(cam("front", webrtc="main"), cam("back", 21)), host(distro=TRIXIE, apt_lists=False))

    after = first.host_after()
    assert "gstreamer1.0-nice" in after.packages and "janus" not in after.packages
    assert paths.WEBRTC_SERVICE in after.running
    assert after.file(paths.WHEP_MODULE) is not None and after.file(paths.WEBRTC_SCRIPT) is not None
    assert again.changes() == []


def test_new_users_reload_the_service_and_new_code_restarts_it(passwords, monkeypatch):
    monkeypatch.setenv("CAMGATE_TEST_ALICE_HASH", hash_password("alice's password"))
    users = [{"name": "alice", "password_ref": "env:CAMGATE_TEST_ALICE_HASH", "cameras": ["*"]}]
    first, settled = converge(DEPLOY, site(cam("front", webrtc="main")), host())
    more, _ = converge(DEPLOY, site(cam("front", webrtc="main"), app_users=users), settled.host_after())
    assert "Reload the WebRTC service (cameras or users changed)" in more.changes()
    assert "Restart the WebRTC service (changed)" not in more.changes()

    changed = more.host_after()
    changed.put(paths.WHEP_MODULE, "# an older camgate's WHEP module\n")
    upgrade, _ = converge(DEPLOY, site(cam("front", webrtc="main"), app_users=users), changed)
    assert "Restart the WebRTC service (changed)" in upgrade.changes()
    assert "Reload the WebRTC service (cameras or users changed)" not in upgrade.changes()


def test_a_gateway_that_ran_janus_is_rid_of_it(passwords):
    old = host(packages={"janus": "1.1.2-1"}, files={f"{paths.ETC}/janus/janus.jcfg": "general: {}\n",
                                                       f"{paths.LIB}/camgate-janus-apply": "#!/bin/sh\n"})  # fmt: skip
    assert paths.OLD_JANUS_SERVICE in old.running
    first, again = converge(DEPLOY, site(cam("front", webrtc="main")), old)

    after = first.host_after()
    assert paths.OLD_JANUS_SERVICE not in after.running and paths.OLD_JANUS_SERVICE not in after.enabled
    assert after.file(f"{paths.ETC}/janus/janus.jcfg") is None and after.file(f"{paths.LIB}/camgate-janus-apply") is None
    assert "janus" in after.packages  # camgate never removes a package
    assert again.changes() == []
