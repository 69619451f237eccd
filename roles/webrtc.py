"""WebRTC live view: camgate-webrtc, the engine (GStreamer's webrtcbin from the distribution) and
WHEP behind nginx. TURN (coturn) is roles.turn."""

import json
import shlex

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import files, server, systemd

from camgate import paths, webrtc as webrtc_settings
from camgate.gateway import source
from camgate.inventory import gateway_from_host
from camgate.render import render
from roles.facts import PathStates, before, installed_before, known_file_state, loaded_before
from roles.operations import ensure_running, put, put_many, restart_if_changed, was_running


@deploy("camgate webrtc")
def webrtc() -> None:
    """Guarantees, while some enabled camera has webrtc on: camgate-webrtc.service (loopback 8086,
    behind nginx's /api/webrtc/; hardened, DynamicUser) runs camgate/gateway/webrtc.py with the
    distribution's GStreamer (packages.WEBRTC, installed by the base role's one apt run), receiving
    each WebRTC camera's RTP from its unit on loopback and answering WHEP offers for the app users
    allowed each camera; ICE on the webrtc_ports range. /etc/camgate/webrtc.env (0600 root) holds the
    TURN secret, made on the gateway once; the same secret signs the manifest's WebRTC tokens. The
    service restarts when its code or unit change, and reloads (SIGHUP) when cameras, users or quotas
    did: the viewers still allowed stay. A Janus that an earlier camgate set up is stopped and its files removed.
    Without WebRTC cameras: camgate-webrtc stopped and its unit removed.
    Reads: cameras (webrtc, webrtc_audio), app_users, webrtc_ports, webrtc_max_viewers(_per_user), url_ttl."""
    retire_janus()
    gateway = gateway_from_host(host)
    if not gateway.webrtc_cameras:
        stop_webrtc()
        return
    ensure_webrtc_secrets()
    signalling_service(gateway)


def retire_janus() -> None:
    """camgate served WebRTC with Janus before: its service stops, camgate's files for it go (the
    distribution's package stays, disabled, as camgate leaves every package it installed)."""
    if installed_before("janus") and loaded_before(paths.OLD_JANUS_SERVICE):
        systemd.service(name="Stop Janus (camgate-webrtc serves WebRTC now)", service=paths.OLD_JANUS_SERVICE, running=False, enabled=False)
    left = [path for path, state in before(PathStates, paths=paths.OLD_JANUS_FILES).items() if state]
    if left:
        server.shell(name="Remove camgate's Janus files", commands=[f"rm -rf {' '.join(shlex.quote(p) for p in left)}"])


def ensure_webrtc_secrets() -> None:
    """The TURN secret: made on the gateway once, never read back by a deploy."""
    put(name="Script camgate-webrtc-secrets", content=render("bin/camgate-webrtc-secrets.j2"), dest=paths.WEBRTC_SECRETS_SCRIPT, mode="0755")
    missing = known_file_state(paths.WEBRTC_SECRETS)[1] is None or known_file_state(paths.TURN_SECRET_CONF)[1] is None
    server.shell(name="WebRTC secrets (made on the gateway once)", commands=[paths.WEBRTC_SECRETS_SCRIPT], _if=lambda: missing)


def signalling_service(gateway) -> None:
    config = webrtc_settings.engine_config(gateway)
    ops = put_many("WebRTC service files", [
        ("Gateway code webrtc", paths.WEBRTC_SCRIPT, source("webrtc"), "0755", "root", "root"),
        ("Gateway code whep", paths.WHEP_MODULE, source("whep"), "0644", "root", "root"),
        ("WebRTC settings", paths.WEBRTC_CONFIG, json.dumps(config, indent=2) + "\n", "0644", "root", "root"),
        (f"Unit {paths.WEBRTC_SERVICE}", paths.unit_path(paths.WEBRTC_SERVICE), render(f"systemd/{paths.WEBRTC_SERVICE}.j2"), "0644", "root", "root"),
    ])  # fmt: skip
    code, module = ops[paths.WEBRTC_SCRIPT], ops[paths.WHEP_MODULE]
    config, unit = ops[paths.WEBRTC_CONFIG], ops[paths.unit_path(paths.WEBRTC_SERVICE)]
    systemd.daemon_reload(name="Reload systemd (camgate-webrtc)", _if=unit.did_change)
    running = was_running(paths.WEBRTC_SERVICE)
    ensure_running("WebRTC service enabled and running", paths.WEBRTC_SERVICE)
    restart_if_changed("Restart the WebRTC service (changed)", paths.WEBRTC_SERVICE, running, code, module, unit)
    if running:
        # New cameras, users or quotas: the service takes them on SIGHUP and keeps the viewers still allowed.
        systemd.service(
            name="Reload the WebRTC service (cameras or users changed)", service=paths.WEBRTC_SERVICE, running=None,
            reloaded=True, _if=lambda: config.did_change() and not (code.did_change() or module.did_change() or unit.did_change()),
        )  # fmt: skip


def stop_webrtc() -> None:
    """No WebRTC camera: the WebRTC service stops and its unit goes (the packages stay)."""
    if known_file_state(paths.unit_path(paths.WEBRTC_SERVICE))[1] is not None:
        systemd.service(name="Stop the WebRTC service", service=paths.WEBRTC_SERVICE, running=False, enabled=False)
        files.file(name=f"Remove {paths.WEBRTC_SERVICE}", path=paths.unit_path(paths.WEBRTC_SERVICE), present=False)
