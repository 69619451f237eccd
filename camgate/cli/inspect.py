"""Commands that look at running gateways over SSH: probe the cameras, status, verify."""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click

from camgate import paths, remote
from camgate.checks import HEALTH, run_checks, testinfra_host
from camgate.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_REMOTE, fail, load_edges_or_exit, load_inventory_or_exit, print_table
from camgate.edgehost import status as edge_status
from camgate.ffmpeg import ffmpeg_major_from_version_line, input_url
from camgate.model import Edge
from camgate.plan import probe_file
from camgate.probe import LONG_PROBE_SECONDS, PROBE_SECONDS, ProbeResult, analyse, classify_failure, ffprobe_command
from camgate.secrets import resolve_secret
from camgate.signing import MULTIVARIANT, signed_path

# Gateways checked at once by status and verify: each is an SSH session waiting on its gateway.
FLEET_WORKERS = 16
# How long the URL `camgate status` has an edge ask itself for stays valid.
EDGE_CHECK_TTL = 300


@click.command()
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.argument("camera_id", metavar="[CAMERA]", required=False)
@click.option("--save/--no-save", default=True, show_default=True,
              help="Keep the measured bitrates beside the inventory (<site>.probe.json) for `camgate plan`.")
def probe(inventory: str, camera_id: str | None, save: bool) -> None:
    """Measure each camera from its gateway (ffprobe over SSH) and recommend settings.

    Prints codec, resolution, frame rate, keyframe interval, bitrate and audio codec; flags
    unreachable cameras, failed authentication and codecs HLS cannot carry. Exits 0 when every
    probed camera is fine, 1 when one has a problem, 4 when a gateway cannot be reached.

    \b
    Example:
      camgate probe inventory/site.py
      camgate probe inventory/site.py front-door
    """
    entries = load_inventory_or_exit(inventory)
    results, problems = {}, False
    for gateway, data in entries:
        cameras = [c for c in gateway.enabled_cameras if camera_id in (None, c.id)]
        if not cameras:
            continue
        try:
            with remote.connect(remote.SshTarget.from_host_data(gateway.host, data)) as client:
                for camera in cameras:
                    click.echo(f"probing {gateway.host} {camera.id} ({PROBE_SECONDS} s) ...", err=True)
                    results.setdefault(gateway.host, {})[camera.id] = probe_camera(client, gateway, camera)
        except remote.RemoteError as exc:
            fail(str(exc), EXIT_REMOTE)
    if not results:
        fail(f"CAMERA: {camera_id!r} is not an enabled camera of this inventory")
    flat = [(gw, r) for gw, cams in results.items() for r in cams.values()]
    print_table(
        ("GATEWAY", "CAMERA", "VIDEO", "SIZE", "FPS", "KEYFRAMES", "BITRATE", "AUDIO"),
        [(gw, r.camera, r.video_codec or "-", f"{r.width}x{r.height}" if r.width else "-",
          f"{r.fps:g}" if r.fps else "-", f"every {r.keyframe_interval:g} s" if r.keyframe_interval else "-",
          f"{r.bitrate_kbps / 1000:.2f} Mbit/s" if r.bitrate_kbps else "-", r.audio_codec or "none")
         for gw, r in flat],
    )  # fmt: skip
    for gw, r in flat:
        for line in r.problems:
            problems = True
            click.echo(f"problem: {gw} {r.camera}: {line}")
        for line in r.advice:
            click.echo(f"advice:  {gw} {r.camera}: {line}")
    if save:
        saved = json.loads(probe_file(inventory).read_text()) if probe_file(inventory).is_file() else {}
        for gw, cams in results.items():
            saved.setdefault(gw, {}).update({cam: r.to_data() for cam, r in cams.items() if r.ok})
        probe_file(inventory).write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n")
    sys.exit(EXIT_FAILURE if problems else EXIT_OK)


def probe_camera(client, gateway, camera) -> ProbeResult:
    """ffprobe on the gateway for PROBE_SECONDS; again for LONG_PROBE_SECONDS when that saw fewer than
    two keyframes (a long keyframe interval), so intervals up to 10 s are measured."""
    password = resolve_secret(camera.password_ref, gateway.secrets_file) if camera.password_ref else None
    _status, version, _ = remote.run(client, "ffprobe -version | head -1")
    major = ffmpeg_major_from_version_line(version)
    for seconds in (PROBE_SECONDS, LONG_PROBE_SECONDS):
        command = ffprobe_command(camera.transport, camera.rtsp_timeout, major, seconds)
        status, out, err = remote.run(
            client, command, timeout=2 * camera.rtsp_timeout + seconds + 15, input=input_url(camera, password) + "\n"
        )
        if status != 0 or not out.strip():
            return ProbeResult(camera=camera.id, ok=False, problems=[classify_failure(err)])
        result = analyse(camera.id, json.loads(out), camera.hls_time)
        if result.keyframe_interval is not None or not result.video_codec:
            break
    return result


@click.command()
@click.argument("inventories", metavar="INVENTORY...", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the gateways' reports as JSON.")
def status(inventories: tuple[str, ...], as_json: bool) -> None:
    """One table of every camera on every gateway: up, down, stalled or unplayable with the reason,
    newest segment age, restarts, and WebRTC (up with its viewers, down or unplayable) where it is on;
    then one line per caching edge: up while a camera of each of its gateways plays through it, the
    share of requests served from its cache, requests refused, errors from its gateways (since mtail
    started; with metrics_from), and its certificate's days left.

    Reads each gateway's own health report over SSH, all gateways at once (a fleet of sites takes
    about as long as its slowest gateway); it judges what a player would get (a playlist that changes
    but that no player can play is `unplayable`). Exits 0 when every camera and edge is up, 1 when
    one is not, 4 when a host cannot be reached (the others are still reported). With --json the
    edges' reports are under "edges".

    \b
    Example:
      camgate status inventory/site.py
      camgate status inventory/*.py
    """
    entries = fleet_entries(inventories)
    edges = fleet_edges(inventories)
    reports, edge_reports, unreachable = {}, {}, False
    for (site, _data), (report, error) in zip(entries + edges, in_parallel(site_report, entries + edges)):
        if error:
            click.echo(f"error: {error}", err=True)
            unreachable = True
        elif isinstance(site, Edge):
            edge_reports[site.host] = report
        else:
            reports[site.host] = report
    if as_json:
        click.echo(json.dumps({**reports, "edges": edge_reports} if edges else reports, indent=2))
    rows = [
        (gw, cam, "up" if r["up"] else r["status"].upper(),
         "-" if r["newest_segment_age"] is None else f"{r['newest_segment_age']:g} s",
         str(r["restarts"]), r["state"], webrtc_cell(r.get("webrtc")),
         "; ".join(why for why in (r["reason"], (r.get("webrtc") or {}).get("reason") and f"WebRTC: {r['webrtc']['reason']}") if why)[:110])
        for gw, report in reports.items() for cam, r in report["cameras"].items()
    ]  # fmt: skip
    edge_rows = [(host, *edge_cells(report)) for host, report in edge_reports.items()]
    if not as_json:
        print_table(("GATEWAY", "CAMERA", "STATUS", "NEWEST SEGMENT", "RESTARTS", "UNIT", "WEBRTC", "REASON"), rows)
        if edges:
            click.echo()
            print_table(("EDGE", "STATUS", "FROM CACHE", "REQUESTS", "REFUSED", "ORIGIN ERRORS", "CERTIFICATE", "REASON"), edge_rows)
    if unreachable:
        sys.exit(EXIT_REMOTE)
    cameras_ok = all(row[2] == "up" and (row[6] == "-" or row[6].startswith("up")) for row in rows)
    sys.exit(EXIT_OK if cameras_ok and all(row[1] == "up" for row in edge_rows) else EXIT_FAILURE)


def fleet_entries(inventories: tuple[str, ...]) -> list:
    """Every gateway of every inventory, in order; exit 2 when a host is declared twice."""
    entries = [entry for inventory in inventories for entry in load_inventory_or_exit(inventory)]
    hosts = [gateway.host for gateway, _ in entries]
    twice = sorted({h for h in hosts if hosts.count(h) > 1})
    if twice:
        fail(f"INVENTORY: gateway {twice[0]!r} is declared in more than one inventory; fix: give each gateway one inventory")
    return entries


def fleet_edges(inventories: tuple[str, ...]) -> list:
    """Every caching edge of every inventory, once each."""
    found: dict[str, tuple] = {}
    for inventory in inventories:
        for edge, data in load_edges_or_exit(inventory):
            found.setdefault(edge.host, (edge, data))
    return list(found.values())


def site_report(site, data) -> dict:
    return edge_report(site, data) if isinstance(site, Edge) else health_report(site, data)


def in_parallel(work, entries: list) -> list[tuple[object, str | None]]:
    """work(gateway, data) for every gateway at once, in threads (the work is waiting on SSH):
    [(result, None) | (None, error message)] in the order of `entries`."""

    def guarded(entry):
        try:
            return work(*entry), None
        except remote.RemoteError as exc:
            return None, str(exc)

    with ThreadPoolExecutor(max_workers=min(FLEET_WORKERS, len(entries) or 1)) as pool:
        return list(pool.map(guarded, entries))


def health_report(gateway, data) -> dict:
    with remote.connect(remote.SshTarget.from_host_data(gateway.host, data)) as client:
        code, out, err = remote.run(client, HEALTH)
    if code != 0:
        raise remote.RemoteError(f"{gateway.host}: health report failed: {err.strip()[-200:]}")
    return json.loads(out)


def edge_report(edge: Edge, data) -> dict:
    """The edge's own account (camgate/edgehost/status.py, run there): its units, certificate,
    traffic, and a signed playlist of one camera per gateway asked of it."""
    request = edge_status_request(edge)
    with remote.connect(remote.SshTarget.from_host_data(edge.host, data)) as client:
        code, out, err = remote.run(client, ["python3", "-c", Path(edge_status.__file__).read_text()], input=json.dumps(request))
    if code != 0:
        raise remote.RemoteError(f"{edge.host}: edge status failed: {err.strip()[-200:]}")
    return json.loads(out)


def edge_status_request(edge: Edge, now: float | None = None) -> dict:
    checks = []
    for origin in edge.origins:
        if origin.cameras:
            secret = resolve_secret(origin.url_secret_ref, origin.secrets_file)
            expires = int(now if now is not None else time.time()) + EDGE_CHECK_TTL
            checks.append({"gateway": origin.host, "camera": origin.cameras[0], "path": signed_path(secret, origin.cameras[0], expires, MULTIVARIANT)})
    return {
        "https_port": edge.https_port,
        "domain": edge.domain,
        "certificate": f"{paths.TLS_CURRENT}/fullchain.pem",
        "traffic_url": f"http://127.0.0.1:{paths.MTAIL_PORT}/metrics" if edge.metrics else None,
        "checks": checks,
    }


def edge_cells(report: dict, now: float | None = None) -> tuple[str, ...]:
    """STATUS, FROM CACHE, REQUESTS, REFUSED, ORIGIN ERRORS, CERTIFICATE, REASON of an edge. It is up
    while nginx runs and every gateway's camera plays through it (or is down at its gateway: 503)."""
    now = time.time() if now is None else now
    problems, notes = [], []
    if report["nginx"] != "active":
        problems.append(f"nginx is {report['nginx']}")
    for gateway, check in report["gateways"].items():
        if check["status"] == "503":
            notes.append(f"{check['camera']} is down at {gateway}")
        elif check["status"] != "200":
            problems.append(f"{gateway}: {check['camera']} answers {check['status']} through the edge")
    if report.get("mtail") not in (None, "active"):
        notes.append(f"mtail is {report['mtail']}: no traffic figures")
    traffic = report.get("traffic")
    expiry = report.get("certificate_expiry")
    return (
        "up" if not problems else "DOWN",
        f"{traffic['cached'] / traffic['requests']:.1%}" if traffic and traffic["requests"] else "-",
        f"{traffic['requests']:.0f}" if traffic else "-",
        f"{traffic['refused']:.0f}" if traffic else "-",
        f"{sum(traffic['origin_errors'].values()):.0f}" if traffic else "-",
        f"{(expiry - now) / 86400:.0f} days left" if expiry else "-",
        "; ".join(problems + notes)[:110],
    )


def webrtc_cell(webrtc: dict | None) -> str:
    """'-' (webrtc off), 'up (2 viewers)', 'DOWN', 'UNPLAYABLE'."""
    if not webrtc:
        return "-"
    return f"up ({webrtc['viewers']} viewers)" if webrtc["up"] else webrtc["status"].upper()


@click.command()
@click.argument("inventories", metavar="INVENTORY...", nargs=-1, required=True, type=click.Path(dir_okay=False))
def verify(inventories: tuple[str, ...]) -> None:
    """Run the packaged checks against every gateway of one or more sites over SSH and print pass/fail.

    The same checks the project's CI runs against its test gateway: services, ports, nginx's
    configuration, every camera live, signed URLs served and unsigned ones refused, credentials
    root-only, certificate names and expiry, firewall, process hiding, timers. Gateways are checked
    at once, each in its own SSH session. Exits 0 when all pass, 1 when one fails, 4 when a gateway
    cannot be reached (the others are still checked).

    \b
    Example:
      pyinfra -y inventory/site.py deploy.py && camgate verify inventory/site.py
      camgate verify inventory/*.py
    """
    entries = fleet_entries(inventories)
    rows, failed, unreachable = [], False, False
    for (gateway, _data), (checks, error) in zip(entries, in_parallel(gateway_checks, entries)):
        if error:
            click.echo(f"error: {error}", err=True)
            unreachable = True
            continue
        for check in checks:
            failed = failed or not check.passed
            rows.append((gateway.host, "PASS" if check.passed else "FAIL", check.name, check.detail))
    print_table(("GATEWAY", "RESULT", "CHECK", "DETAIL"), rows)
    passed = sum(1 for row in rows if row[1] == "PASS")
    click.echo(f"{passed} passed, {len(rows) - passed} failed")
    sys.exit(EXIT_REMOTE if unreachable else EXIT_FAILURE if failed else EXIT_OK)


def gateway_checks(gateway, data) -> list:
    host = testinfra_host(remote.SshTarget.from_host_data(gateway.host, data))
    try:
        host.run("true")
    except Exception as exc:  # testinfra raises on an SSH failure (exit 255)
        raise remote.RemoteError(f"{gateway.host}: cannot connect over SSH: {exc}") from exc
    return run_checks(host, gateway)


COMMANDS = (probe, status, verify)
