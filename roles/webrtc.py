"""WebRTC live view: Janus (the distribution's package) relaying each camera's RTP, and camgate-webrtc,
the app's signalling behind nginx. TURN (coturn) is roles.turn."""

import json
import shlex
from io import StringIO
from pathlib import Path

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.exceptions import DeployError
from pyinfra.operations import files, server, systemd

from camgate import packages, paths, webrtc as webrtc_settings
from camgate.gateway import webrtc as signalling_module
from camgate.inventory import gateway_from_host
from camgate.render import render, render_janus_configs, sha1
from roles.facts import Accounts, AptCandidate, PathStates, before, directory_state, installed_before, known_file_state, loaded_before
from roles.operations import ensure_packages, ensure_running, put, put_many, restart_if_changed, was_running


@deploy("camgate webrtc")
def webrtc() -> None:
    """Guarantees, while some enabled camera has webrtc on: the `janus` package installed, run by
    janus.service under camgate's drop-in (user camgate-janus, hardened, API secret from
    /etc/camgate/webrtc.env) with camgate's config folder /etc/camgate/janus: the streaming plugin
    with one private mountpoint per WebRTC camera (RTP on loopback ports, see camgate.webrtc) and
    the HTTP API on 127.0.0.1:8088 only, no admin API, no other plugin or transport. A changed config
    goes live only after a trial Janus started with it (camgate-janus-apply), then Janus restarts.
    /etc/camgate/webrtc.env (0600 root) holds Janus's API secret and the TURN secret, made on the
    gateway once. camgate-webrtc.service (loopback 8086, behind nginx's /api/webrtc/) signals for
    the app users allowed each camera; reloaded (viewers kept) when only users or cameras changed.
    Without WebRTC cameras: Janus and camgate-webrtc stopped and disabled (the package stays).
    Where the host's apt sources have no `janus` (Debian 13), a gateway with WebRTC cameras is refused
    before anything of WebRTC changes (require_janus_package).
    Reads: cameras (webrtc, webrtc_audio, name), app_users, webrtc_ports, webrtc_max_viewers."""
    gateway = gateway_from_host(host)
    if not gateway.webrtc_cameras:
        stop_webrtc()
        return
    require_janus_package(gateway)
    janus_before = was_running(paths.JANUS_SERVICE)
    ensure_webrtc_secrets()
    janus_user = (before(Accounts) or {}).get(paths.JANUS_USER) or {}
    if (janus_user.get("shell"), janus_user.get("home")) != ("/usr/sbin/nologin", "/nonexistent"):
        server.user(
            name=f"User {paths.JANUS_USER}",
            user=paths.JANUS_USER,
            system=True,
            shell="/usr/sbin/nologin",
            home="/nonexistent",
            ensure_home=False,
        )
    first = janus_configs()
    dropin = put(name="janus.service drop-in", content=render("systemd/janus.service.d/camgate.conf.j2"), dest=paths.JANUS_DROPIN)
    # With the drop-in and a config in place first, the package's own start of janus.service runs
    # camgate's Janus from the first second, never the distribution's sample setup.
    ensure_packages("Install Janus", packages.JANUS)
    systemd.daemon_reload(name="Reload systemd (janus drop-in)", _if=dropin.did_change)
    apply_janus_config(first)
    ensure_running("Janus enabled and running", paths.JANUS_SERVICE)
    restart_if_changed("Restart Janus (drop-in changed)", paths.JANUS_SERVICE, janus_before, dropin)
    signalling_service(gateway)


def require_janus_package(gateway) -> None:
    """Debian 13 (trixie) ships no `janus` (it left testing before the release and is not in
    trixie-backports either). Decided from the host's apt lists, not its release name: when they
    have no janus, the deploy stops before its first change; a bare host without lists yet is checked
    once the base role has refreshed them, before the first WebRTC change."""
    cameras = ", ".join(c.id for c in gateway.webrtc_cameras)
    message = (
        f"host {host.name!r}: cameras {cameras} have WebRTC on, but the host's apt sources have no janus "
        "package (Debian 13 ships none); fix: set webrtc='off' for them, or add an apt source that has janus"
    )
    if installed_before("janus"):
        return
    candidate = host.get_fact(AptCandidate, package="janus")
    if candidate is None:
        raise DeployError(message)
    if candidate == "unknown":
        server.shell(
            name="Janus available from apt (checked after the first apt refresh)",
            commands=[f"apt-cache policy janus | grep -q 'Candidate: [0-9]' || {{ echo {shlex.quote(message)} >&2; exit 1; }}"],
        )


def ensure_webrtc_secrets() -> None:
    """Janus's API secret and the TURN secret: made on the gateway once, never read back by a deploy."""
    put(name="Script camgate-webrtc-secrets", content=render("bin/camgate-webrtc-secrets.j2"), dest=paths.WEBRTC_SECRETS_SCRIPT, mode="0755")
    missing = known_file_state(paths.WEBRTC_SECRETS)[1] is None or known_file_state(paths.TURN_SECRET_CONF)[1] is None
    server.shell(name="WebRTC secrets (made on the gateway once)", commands=[paths.WEBRTC_SECRETS_SCRIPT], _if=lambda: missing)


def janus_configs() -> bool:
    """Stage the config (the live one changes only through camgate-janus-apply); on a first install,
    when there is no Janus to keep running, the live config is written at once (True)."""
    gateway = gateway_from_host(host)
    configs = render_janus_configs(gateway)
    if before(PathStates, paths=(paths.JANUS_STAGING_DIR,)).get(paths.JANUS_STAGING_DIR) != directory_state("0755", "root", "root"):
        files.directory(name=paths.JANUS_STAGING_DIR, path=paths.JANUS_STAGING_DIR, mode="0755")
    put_many("Stage Janus config", [
        (f"Stage Janus {name}", f"{paths.JANUS_STAGING_DIR}/{name}", content, "0644", "root", "root") for name, content in configs.items()
    ])
    first = known_file_state(f"{paths.JANUS_CONFIG_DIR}/janus.jcfg")[1] is None
    if first:
        files.directory(name=paths.JANUS_CONFIG_DIR, path=paths.JANUS_CONFIG_DIR, mode="0755")
        for name, content in configs.items():
            files.put(name=f"First Janus {name}", src=StringIO(content), dest=f"{paths.JANUS_CONFIG_DIR}/{name}", mode="0644")
    return first


def apply_janus_config(first: bool) -> None:
    gateway = gateway_from_host(host)
    put(name="Script camgate-janus-apply", content=render("bin/camgate-janus-apply.j2"), dest=paths.JANUS_APPLY, mode="0755")
    # Compared with what is live (not with the staged copy), so an interrupted deploy still converges.
    differs = any(
        (known_file_state(f"{paths.JANUS_CONFIG_DIR}/{name}")[1] or "").rsplit(" ", 1)[-1] != sha1(content)
        for name, content in render_janus_configs(gateway).items()
    )
    server.shell(
        name="Try the new Janus config, then restart Janus with it",
        commands=[paths.JANUS_APPLY],
        _if=lambda: differs and not first,
    )


def signalling_service(gateway) -> None:
    ops = put_many("WebRTC signalling files", [
        ("Gateway code webrtc", paths.WEBRTC_SCRIPT, Path(signalling_module.__file__).read_text(), "0755", "root", "root"),
        ("WebRTC signalling settings", paths.WEBRTC_CONFIG, json.dumps(webrtc_settings.signalling_config(gateway), indent=2) + "\n",
         "0644", "root", "root"),
        (f"Unit {paths.WEBRTC_SERVICE}", paths.unit_path(paths.WEBRTC_SERVICE), render(f"systemd/{paths.WEBRTC_SERVICE}.j2"), "0644", "root", "root"),
    ])  # fmt: skip
    code, config, unit = ops[paths.WEBRTC_SCRIPT], ops[paths.WEBRTC_CONFIG], ops[paths.unit_path(paths.WEBRTC_SERVICE)]
    systemd.daemon_reload(name="Reload systemd (camgate-webrtc)", _if=unit.did_change)
    running = was_running(paths.WEBRTC_SERVICE)
    ensure_running("WebRTC signalling enabled and running", paths.WEBRTC_SERVICE)
    restart_if_changed("Restart WebRTC signalling (changed)", paths.WEBRTC_SERVICE, running, code, unit)
    if running:
        systemd.service(
            name="Reload WebRTC signalling (users or cameras changed)", service=paths.WEBRTC_SERVICE, running=None,
            reloaded=True, _if=lambda: config.did_change() and not code.did_change() and not unit.did_change(),
        )  # fmt: skip


def stop_webrtc() -> None:
    """No WebRTC camera: Janus and the signalling service stop and stay off (the package stays)."""
    if known_file_state(paths.unit_path(paths.WEBRTC_SERVICE))[1] is not None:
        systemd.service(name="Stop WebRTC signalling", service=paths.WEBRTC_SERVICE, running=False, enabled=False)
        files.file(name=f"Remove {paths.WEBRTC_SERVICE}", path=paths.unit_path(paths.WEBRTC_SERVICE), present=False)
    if installed_before("janus") and loaded_before(paths.JANUS_SERVICE):
        systemd.service(name="Stop Janus (no WebRTC camera)", service=paths.JANUS_SERVICE, running=False, enabled=False)
