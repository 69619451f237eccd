"""The checks that prove a deployed gateway works, run over SSH with testinfra: `camgate verify`
runs them against a site, and the integration suite runs the same ones against the testbed."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import testinfra

from camgate import paths
from camgate.model import Gateway
from camgate.remote import SshTarget
from camgate.signing import parse_link_secret_conf, signed_path
from camgate.tls import parse_certificate_text

HEALTH = f"python3 {paths.HEALTH_SCRIPT} {paths.HEALTH_CONFIG}"
REPORT_REUSE = 5.0  # seconds the checks of one verify run share one health report
LIVE_WAIT = 15.0  # a camera that just (re)started: the timer reports again within 10 s
CERT_DAYS_LEFT = 7


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str = ""


def ssh_control_dir() -> Path:
    """Where the ssh connection-sharing sockets live (0700): one SSH handshake per gateway, not one
    per check command; a master lingers 60 s after its last command, so a second run reuses it."""
    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "camgate" / "ssh"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)
    return folder


def testinfra_host(target: SshTarget) -> Any:
    """A testinfra host over the system's ssh, with the inventory's key and pinned host keys."""
    user = target.user or "root"
    extra = ["-o BatchMode=yes", "-o StrictHostKeyChecking=yes"]
    if target.known_hosts:
        extra += [f"-o UserKnownHostsFile={shlex.quote(target.known_hosts)}", "-o GlobalKnownHostsFile=/dev/null"]
    return testinfra.get_host(
        f"ssh://{user}@{target.hostname}:{target.port}",
        ssh_identity_file=target.key,
        ssh_extra_args=" ".join(extra),
        sudo=user != "root",
        # A literal name: testinfra %-formats its ssh command line, so ssh's own %C cannot be used.
        controlpath=str(ssh_control_dir() / hashlib.sha1(f"{user}@{target.hostname}:{target.port}".encode()).hexdigest()[:20]),
    )


def run_checks(host: Any, gateway: Gateway) -> list[Check]:
    """Every check for one gateway; a check that cannot run counts as failed, with the reason."""
    results = []
    for name, check in planned_checks(gateway):
        try:
            passed, detail = check(host)
        except Exception as exc:  # a check that cannot run is a failed check
            passed, detail = False, f"{type(exc).__name__}: {exc}"
        results.append(Check(name, bool(passed), detail))
    return results


def planned_checks(gateway: Gateway) -> list[tuple[str, Callable[[Any], tuple[bool, str]]]]:
    port = gateway.https_port if gateway.https else gateway.http_port
    checks: list[tuple[str, Callable[[Any], tuple[bool, str]]]] = [
        ("nginx running and enabled", lambda h: service_up(h, "nginx")),
        ("nginx accepts its configuration", lambda h: command_ok(h, "nginx -t")),
        (f"listening on port {port}", lambda h: (h.socket(f"tcp://0.0.0.0:{port}").is_listening, "")),
        ("health timer active", lambda h: service_up(h, paths.HEALTH_TIMER)),
    ]
    for camera in gateway.enabled_cameras:
        checks.append((f"camera {camera.id}: unit running and enabled", lambda h, c=camera: service_up(h, c.unit_name)))
        checks.append((f"camera {camera.id}: live and playable", lambda h, c=camera: camera_live(h, c.id)))
        checks.append((f"camera {camera.id}: signed URL served, unsigned refused", lambda h, c=camera: signed_served(h, gateway, c.id)))
        if camera.password_ref:
            path = paths.credentials_path(camera.id)
            checks.append((f"camera {camera.id}: credentials root-only", lambda h, p=path: root_only(h, p)))
    if gateway.https:
        checks.append(("certificate valid for every name", lambda h: certificate_ok(h, gateway)))
    if gateway.firewall:
        checks.append(("firewall table loaded", lambda h: command_ok(h, f"nft list table inet {paths.FIREWALL_TABLE}")))
    if gateway.hide_processes:
        checks.append(("other users cannot see processes", lambda h: ("hidepid=invisible" in h.check_output("findmnt -n -o OPTIONS /proc"), "")))
    if gateway.recording_cameras:
        checks.append(("retention timer active", lambda h: service_up(h, paths.RETENTION_TIMER)))
    if gateway.webrtc_cameras:
        for unit in (paths.WEBRTC_SERVICE, paths.COTURN_SERVICE):
            checks.append((f"{unit.removesuffix('.service')} running and enabled", lambda h, u=unit: service_up(h, u)))
        checks.append(("the WebRTC service's HTTP on loopback only", loopback_only))
        for camera in gateway.webrtc_cameras:
            checks.append((f"camera {camera.id}: WebRTC up", lambda h, c=camera: webrtc_live(h, c.id)))
    return checks


def loopback_only(host: Any) -> tuple[bool, str]:
    """camgate-webrtc's HTTP (WHEP and /status) listens on 127.0.0.1 and nowhere else."""
    listening = host.check_output("ss -Hltn")
    wanted = [f"127.0.0.1:{paths.WEBRTC_PORT}"]
    exposed = [line.split()[3] for line in listening.splitlines()
               if line.split()[3].rsplit(":", 1)[-1] == str(paths.WEBRTC_PORT) and not line.split()[3].startswith("127.0.0.1:")]
    missing = [address for address in wanted if f"{address} " not in listening]
    return not exposed and not missing, f"exposed {exposed}" if exposed else f"not listening: {missing}" if missing else ""


def webrtc_live(host: Any, camera_id: str, wait: float = LIVE_WAIT) -> tuple[bool, str]:
    """A WebRTC viewer would see the camera now, per the gateway's health report."""
    webrtc = wait_for_camera(host, camera_id, lambda report: (report.get("webrtc") or {}).get("up"), wait).get("webrtc") or {}
    return bool(webrtc.get("up")), "" if webrtc.get("up") else f"{webrtc.get('status', 'down')}: {webrtc.get('reason')}"


def health_report(host: Any, reuse: bool = True) -> dict:
    """The health script's report, judged on the gateway now; the checks of one run share it for
    REPORT_REUSE seconds (one run of the script instead of one per camera and per WebRTC camera)."""
    taken, report = getattr(host, "_camgate_health", (float("-inf"), None))
    if report is None or not reuse or time.monotonic() - taken > REPORT_REUSE:
        report = json.loads(host.check_output(HEALTH))
        host._camgate_health = (time.monotonic(), report)
    return report


def wait_for_camera(host: Any, camera_id: str, ready: Callable[[dict], Any], wait: float = LIVE_WAIT) -> dict:
    """The camera's entry of the health report once `ready(entry)`, or the last one after `wait` s
    (each retry judges the gateway anew)."""
    deadline = time.monotonic() + wait
    report = health_report(host)["cameras"].get(camera_id, {})
    while not ready(report) and time.monotonic() < deadline:
        time.sleep(1)
        report = health_report(host, reuse=False)["cameras"].get(camera_id, {})
    return report


def service_up(host: Any, unit: str) -> tuple[bool, str]:
    service = host.service(unit)
    running, enabled = service.is_running, service.is_enabled
    return running and enabled, "" if running and enabled else f"running={running} enabled={enabled}"


def command_ok(host: Any, command: str) -> tuple[bool, str]:
    result = host.run(command)
    return result.rc == 0, (result.stderr or result.stdout).strip()[-200:] if result.rc else ""


def root_only(host: Any, path: str) -> tuple[bool, str]:
    f = host.file(path)
    ok = f.exists and f.user == "root" and f.mode & 0o077 == 0
    return ok, "" if ok else f"{path}: owner {f.user}, mode {oct(f.mode) if f.exists else 'missing'}"


def camera_live(host: Any, camera_id: str, wait: float = LIVE_WAIT) -> tuple[bool, str]:
    """Up per the gateway's health report; a camera that just (re)started gets `wait` seconds."""
    report = wait_for_camera(host, camera_id, lambda entry: entry.get("up"), wait)
    detail = (
        f"newest segment {report.get('newest_segment_age')} s old"
        if report.get("up")
        else f"{report.get('status', 'down')}: {report.get('reason') or report.get('last_error')}"
    )
    return bool(report.get("up")), detail


def signed_served(host: Any, gateway: Gateway, camera_id: str) -> tuple[bool, str]:
    """nginx on the gateway answers a freshly signed playlist URL with 200 and an unsigned one with 403."""
    secret = parse_link_secret_conf(host.file(paths.LINK_SECRET_CONF).content_string)
    if secret is None:
        return False, f"no signing secret in {paths.LINK_SECRET_CONF}"
    signed = host.check_output(signed_status_command(gateway, signed_path(secret, camera_id, int(time.time()) + 120)))
    unsigned = host.check_output(signed_status_command(gateway, f"/hls/{camera_id}/stream.m3u8"))
    return signed == "200" and unsigned == "403", f"signed {signed}, unsigned {unsigned}"


def signed_status_command(gateway: Gateway, path: str) -> str:
    """A command for the gateway that prints the HTTP status nginx answers `path` with. The gateway
    asks itself by its own name, whatever DNS says (like the app would, minus DNS)."""
    scheme, port = ("https", gateway.https_port) if gateway.https else ("http", gateway.http_port)
    resolve = shlex.quote(f"{gateway.domain}:{port}:127.0.0.1")
    url = shlex.quote(f"{scheme}://{gateway.domain}:{port}{path}")
    return f"curl -sk -o /dev/null -w '%{{http_code}}' --resolve {resolve} {url}"


def certificate_ok(host: Any, gateway: Gateway) -> tuple[bool, str]:
    path = f"{paths.TLS_CURRENT}/fullchain.pem"
    info = parse_certificate_text(
        host.check_output(f"openssl x509 -in {path} -noout -serial -enddate -ext subjectAltName")
    )
    expiring = host.run(f"openssl x509 -in {path} -noout -checkend {CERT_DAYS_LEFT * 86400}").rc != 0
    missing = set(gateway.certificate_names) - set(info["names"] if info else [])
    ok = not missing and not expiring
    return ok, "" if ok else f"missing names {sorted(missing)}" if missing else f"expires within {CERT_DAYS_LEFT} days"
