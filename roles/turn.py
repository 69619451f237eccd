"""TURN for WebRTC viewers that cannot reach camgate-webrtc directly: coturn, the distribution's package."""

import ipaddress
from io import StringIO

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.facts.hardware import Ipv4Addrs
from pyinfra.operations import files, systemd

from camgate import packages, paths
from camgate.inventory import gateway_from_host
from camgate.render import render, render_turnserver_conf
from roles.facts import installed_before, loaded_before
from roles.operations import ensure_packages, ensure_running, put, restart_if_changed, was_running


@deploy("camgate turn")
def turn() -> None:
    """Guarantees, while some enabled camera has webrtc on: coturn installed and running with
    /etc/turnserver.conf from camgate: TURN over UDP and TCP on turn_port, over TLS on turns_port
    with the gateway's certificate (when it has TLS; handed over as systemd credentials, and a
    renewal restarts coturn), time-limited credentials only (use-auth-secret with the TURN secret
    of /etc/camgate/webrtc.env, passed on the command line by camgate's drop-in), UDP relays on
    turn_relay_ports to this gateway's own IPv4 addresses only (every other peer, loopback and
    private ranges included, is refused), per-user and total allocation quotas. Restarted when its
    config or drop-in changed. Without WebRTC cameras: coturn stopped and disabled.
    Reads: cameras (webrtc), domain, tls, turn_port, turns_port, turn_relay_ports, webrtc_max_viewers."""
    gateway = gateway_from_host(host)
    if not gateway.webrtc_cameras:
        if installed_before("coturn") and loaded_before(paths.COTURN_SERVICE):
            systemd.service(name="Stop coturn (no WebRTC camera)", service=paths.COTURN_SERVICE, running=False, enabled=False)
        return
    running_before = was_running(paths.COTURN_SERVICE)
    installed = installed_before("coturn")
    content = render_turnserver_conf(gateway, own_addresses())
    # Config and drop-in before the package: its first start already runs camgate's coturn.
    if not installed:
        files.put(name=f"coturn {paths.COTURN_CONFIG} (first)", src=StringIO(content), dest=paths.COTURN_CONFIG, mode="0644")
    dropin = put(
        name="coturn.service drop-in",
        content=render("systemd/coturn.service.d/camgate.conf.j2", https=gateway.https),
        dest=paths.COTURN_DROPIN,
    )
    ensure_packages("Install coturn", packages.COTURN)
    # The package's own owner and mode for it (dpkg-statoverride root:turnserver 0640).
    config = put(name=f"coturn {paths.COTURN_CONFIG}", content=content, dest=paths.COTURN_CONFIG, group="turnserver", mode="0640")
    systemd.daemon_reload(name="Reload systemd (coturn drop-in)", _if=dropin.did_change)
    ensure_running("coturn enabled and running", paths.COTURN_SERVICE)
    restart_if_changed("Restart coturn (changed)", paths.COTURN_SERVICE, running_before, config, dropin)


def own_addresses() -> list[str]:
    """The gateway's IPv4 addresses but loopback: where camgate-webrtc's media is, and all coturn may relay to."""
    found = set()
    for addresses in (host.get_fact(Ipv4Addrs) or {}).values():
        for address in addresses:
            if not ipaddress.ip_address(address).is_loopback:
                found.add(address)
    return sorted(found, key=ipaddress.ip_address)
