"""The `camgate` command line."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from camgate import remote
from camgate.checks import HEALTH, run_checks, testinfra_host
from camgate.ffmpeg import ffmpeg_major_from_version_line, input_url
from camgate.inventory import load_inventory
from camgate.model import InventoryError
from camgate.passwords import hash_password
from camgate.plan import plan_site, probe_file, probed_bitrates
from camgate.probe import (
    PROBE_SECONDS,
    ProbeResult,
    analyse,
    classify_failure,
    ffprobe_command,
)
from camgate.secrets import SecretError, resolve_secret
from camgate.signing import link_secret, signed_url
from camgate.tls import SELFSIGNED_CA_DIR, certificate_fingerprint
from camgate.units import format_bytes, parse_size


class Duration(click.ParamType):
    """90, 90s, 30m, 1h, 2d -> seconds."""

    name = "duration"
    UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        text = str(value).strip().lower()
        unit = self.UNITS.get(text[-1:], None)
        number = text[:-1] if unit else text
        if not number.isdigit() or int(number) == 0:
            self.fail(f"{value!r} is not a duration; use e.g. 90s, 30m, 1h or 2d", param, ctx)
        return int(number) * (unit or 1)


DURATION = Duration()

# Exit codes scripts can rely on.
EXIT_OK = 0
EXIT_INVALID = 2
EXIT_REMOTE = 4


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="camgate")
def main() -> None:
    """camgate: provision RTSP-to-HLS CCTV gateways with pyinfra, and prove they work.

    \b
    Example:
      camgate validate inventory/prod.py
      pyinfra inventory/prod.py deploy.py
      camgate urls inventory/prod.py
    """


def _load_or_exit(inventory: str):
    return [gateway for gateway, _data in _load_inventory_or_exit(inventory)]


@main.command()
@click.argument("inventory", type=click.Path(dir_okay=False))
def validate(inventory: str) -> None:
    """Check an inventory (fields and secret references) without touching any host.

    Exits 0 when valid, 2 with one line per problem otherwise.

    \b
    Example:
      camgate validate inventory/prod.py
    """
    gateways = _load_or_exit(inventory)
    for gw in gateways:
        enabled = len(gw.enabled_cameras)
        click.echo(f"{gw.host}: {enabled} enabled camera(s) of {len(gw.cameras)}, served as {gw.domain}")
    click.echo(f"ok: {len(gateways)} gateway(s)")


ttl_option = click.option(
    "--ttl", type=DURATION, default=None, help="How long the URL stays valid: 90s, 30m, 1h, 2d (default: url_ttl)."
)


@main.command()
@click.argument("inventory", type=click.Path(dir_okay=False))
@ttl_option
def urls(inventory: str, ttl: int | None) -> None:
    """Print a signed live HLS URL for every enabled camera of every gateway.

    The signing secret comes from the secrets store (url_secret_ref) or, over SSH, from the gateway.

    \b
    Example:
      camgate urls inventory/testbed.py --ttl 30m
    """
    rows = []
    for gateway, data in _load_inventory_or_exit(inventory):
        secret = _link_secret_or_exit(gateway, data)
        for camera in gateway.enabled_cameras:
            url, expires = signed_url(gateway, camera, secret, ttl)
            rows.append((gateway.host, camera.id, _utc(expires), url))
    _print_table(("GATEWAY", "CAMERA", "VALID UNTIL (UTC)", "HLS URL"), rows)


@main.command()
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.argument("camera_id", metavar="CAMERA")
@ttl_option
@click.option("--gateway", "gateway_name", help="Which gateway (default: the one that has CAMERA).")
def sign(inventory: str, camera_id: str, ttl: int | None, gateway_name: str | None) -> None:
    """Print a signed, expiring live HLS URL for one camera (and nothing else, for scripts).

    \b
    Example:
      camgate sign inventory/site.py front-door --ttl 1h
      ffplay "$(camgate sign inventory/site.py front-door --ttl 10m)"
    """
    entries = _load_inventory_or_exit(inventory)
    if gateway_name is None:
        entries = [(gw, data) for gw, data in entries if any(c.id == camera_id for c in gw.enabled_cameras)] or entries
    gateway, data = _pick_gateway(entries, gateway_name)
    camera = next((c for c in gateway.enabled_cameras if c.id == camera_id), None)
    if camera is None:
        known = ", ".join(c.id for c in gateway.enabled_cameras) or "none"
        click.echo(f"error: CAMERA: {camera_id!r} is not an enabled camera of {gateway.host}; fix: use one of {known}", err=True)
        sys.exit(EXIT_INVALID)
    url, expires = signed_url(gateway, camera, _link_secret_or_exit(gateway, data), ttl)
    click.echo(url)
    click.echo(f"valid until {_utc(expires)} UTC", err=True)


@main.command("rotate-url-secret")
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.option("--gateway", "gateway_name", help="Which gateway (default: the only one in the inventory).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def rotate_url_secret(inventory: str, gateway_name: str | None, yes: bool) -> None:
    """Replace a gateway's URL signing secret: every URL signed before stops working at once.

    Apps fetch fresh URLs from /api/cameras; cameras and recordings are not touched. With
    url_secret_ref, change the secret in the secrets store and re-run the deploy instead.

    \b
    Example:
      camgate rotate-url-secret inventory/site.py --yes
    """
    gateway, data = _pick_gateway(_load_inventory_or_exit(inventory), gateway_name)
    if gateway.url_secret_ref:
        click.echo(
            f"error: {gateway.host}: field 'url_secret_ref' is set; fix: put a new secret in the secrets store "
            "and re-run the deploy",
            err=True,
        )
        sys.exit(EXIT_INVALID)
    if not yes:
        click.confirm(f"Every signed URL of {gateway.host} stops working now. Rotate?", abort=True)
    try:
        with remote.connect(remote.SshTarget.from_host_data(gateway.host, data)) as client:
            status, _out, err = remote.run(client, ["/usr/local/lib/camgate/camgate-link-secret", "--rotate"])
    except remote.RemoteError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_REMOTE)
    if status != 0:
        click.echo(f"error: {gateway.host}: rotation failed: {err.strip()}", err=True)
        sys.exit(EXIT_REMOTE)
    click.echo(f"{gateway.host}: new URL signing secret in place; nginx reloaded")


@main.command("hash-password")
@click.password_option(prompt="App user password", help="Read from the terminal when not given.")
def hash_password_cmd(password: str) -> None:
    """Print a password hash ($6$) for an app user, to put in the site's secrets file.

    \b
    Example:
      camgate hash-password            # asks twice, prints $6$...
      echo 'alice = "<hash>"' >> inventory/site.secrets.toml   # then password_ref="secret:alice"
    """
    try:
        click.echo(hash_password(password))
    except ValueError as exc:
        click.echo(f"error: password: {exc}", err=True)
        sys.exit(EXIT_INVALID)


@main.command()
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.option("--viewers", default=5, show_default=True, type=click.IntRange(0, 100_000),
              help="How many people watch at once (each watching every camera: the worst case).")
@click.option("--disk", help="Disk for recordings, e.g. 2T (default: recordings_max_size of the gateways).")
def plan(inventory: str, viewers: int, disk: str | None) -> None:
    """Bandwidth in from the cameras and out to viewers, recording storage per day and week, and
    how many days the disk holds. Uses bitrates measured by `camgate probe` where there are any,
    else each camera's bitrate_kbps. Exits 1 when the disk cannot hold the retention asked for.

    \b
    Example:
      camgate plan inventory/site.py --viewers 20 --disk 4T
    """
    if disk is not None and parse_size(disk) is None:
        click.echo(f"error: --disk: {disk!r} is not a size; fix: use e.g. 500G or 2T", err=True)
        sys.exit(EXIT_INVALID)
    gateways = _load_or_exit(inventory)
    site = plan_site(gateways, probed_bitrates(inventory), viewers, disk)
    rows = [
        (c.gateway, c.camera, f"{c.kbps / 1000:.2f} Mbit/s", c.source,
         format_bytes(c.bytes_per_day) if c.record else "-", format_bytes(c.bytes_per_day * 7) if c.record else "-",
         c.retention if c.record else "-", format_bytes(c.bytes_for_retention) if c.record else "-")
        for c in site.cameras
    ]  # fmt: skip
    _print_table(("GATEWAY", "CAMERA", "BITRATE", "FROM", "PER DAY", "PER WEEK", "RETENTION", "NEEDS"), rows)
    click.echo("")
    click.echo(f"in from cameras:   {site.in_mbps:.1f} Mbit/s")
    click.echo(f"out to {viewers} viewers: {site.out_mbps:.1f} Mbit/s (every viewer on every camera)")
    click.echo(f"recordings:        {format_bytes(site.bytes_per_day)}/day, {format_bytes(site.bytes_per_day * 7)}/week")
    if site.days_held is not None:
        click.echo(f"disk {format_bytes(site.disk_bytes)} holds {site.days_held:.1f} days of recordings")
    elif site.bytes_per_day:
        click.echo("disk: no recordings_max_size; pass --disk SIZE to see how many days it holds")
    for warning in site.warnings():
        click.echo(f"warning: {warning}", err=True)
    sys.exit(1 if site.warnings() else 0)


@main.command()
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
    entries = _load_inventory_or_exit(inventory)
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
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_REMOTE)
    if not results:
        click.echo(f"error: CAMERA: {camera_id!r} is not an enabled camera of this inventory", err=True)
        sys.exit(EXIT_INVALID)
    flat = [(gw, r) for gw, cams in results.items() for r in cams.values()]
    _print_table(
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
    sys.exit(1 if problems else 0)


def probe_camera(client, gateway, camera) -> ProbeResult:
    password = resolve_secret(camera.password_ref, gateway.secrets_file) if camera.password_ref else None
    _status, version, _ = remote.run(client, "ffprobe -version | head -1")
    major = ffmpeg_major_from_version_line(version)
    command = ffprobe_command(camera.transport, camera.rtsp_timeout, major)
    status, out, err = remote.run(
        client, command, timeout=2 * camera.rtsp_timeout + PROBE_SECONDS + 15, input=input_url(camera, password) + "\n"
    )
    if status != 0 or not out.strip():
        return ProbeResult(camera=camera.id, ok=False, problems=[classify_failure(err)])
    return analyse(camera.id, json.loads(out), camera.hls_time)


@main.command()
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the gateways' reports as JSON.")
def status(inventory: str, as_json: bool) -> None:
    """One table of every camera on every gateway: up/down, newest segment age, restarts, last error.

    Reads each gateway's own health report over SSH. Exits 0 when every camera is up, 1 when one is
    down, 4 when a gateway cannot be reached.

    \b
    Example:
      camgate status inventory/site.py
    """
    reports, unreachable = {}, False
    for gateway, data in _load_inventory_or_exit(inventory):
        try:
            with remote.connect(remote.SshTarget.from_host_data(gateway.host, data)) as client:
                code, out, err = remote.run(client, HEALTH)
            if code != 0:
                raise remote.RemoteError(f"{gateway.host}: health report failed: {err.strip()[-200:]}")
            reports[gateway.host] = json.loads(out)
        except remote.RemoteError as exc:
            click.echo(f"error: {exc}", err=True)
            unreachable = True
    if as_json:
        click.echo(json.dumps(reports, indent=2))
    rows = [
        (gw, cam, "up" if r["up"] else "DOWN", "-" if r["newest_segment_age"] is None else f"{r['newest_segment_age']:g} s",
         str(r["restarts"]), r["state"], (r["last_error"] or "")[:70])
        for gw, report in reports.items() for cam, r in report["cameras"].items()
    ]  # fmt: skip
    if not as_json:
        _print_table(("GATEWAY", "CAMERA", "STATUS", "NEWEST SEGMENT", "RESTARTS", "UNIT", "LAST ERROR"), rows)
    if unreachable:
        sys.exit(EXIT_REMOTE)
    sys.exit(0 if all(row[2] == "up" for row in rows) else 1)


@main.command()
@click.argument("inventory", type=click.Path(dir_okay=False))
def verify(inventory: str) -> None:
    """Run the packaged checks against every gateway of a site over SSH and print pass/fail.

    The same checks the project's CI runs against its test gateway: services, ports, nginx's
    configuration, every camera live, signed URLs served and unsigned ones refused, credentials
    root-only, certificate names and expiry, firewall, process hiding, timers. Exits 0 when all
    pass, 1 when one fails, 4 when a gateway cannot be reached.

    \b
    Example:
      pyinfra -y inventory/site.py deploy.py && camgate verify inventory/site.py
    """
    rows, failed = [], False
    for gateway, data in _load_inventory_or_exit(inventory):
        host = testinfra_host(remote.SshTarget.from_host_data(gateway.host, data))
        try:
            host.run("true")
        except Exception as exc:  # testinfra raises on an SSH failure (exit 255)
            click.echo(f"error: {gateway.host}: cannot connect over SSH: {exc}", err=True)
            sys.exit(EXIT_REMOTE)
        for check in run_checks(host, gateway):
            failed = failed or not check.passed
            rows.append((gateway.host, "PASS" if check.passed else "FAIL", check.name, check.detail))
    _print_table(("GATEWAY", "RESULT", "CHECK", "DETAIL"), rows)
    passed = sum(1 for row in rows if row[1] == "PASS")
    click.echo(f"{passed} passed, {len(rows) - passed} failed")
    sys.exit(1 if failed else 0)


def _link_secret_or_exit(gateway, data) -> str:
    try:
        return link_secret(gateway, data)
    except (remote.RemoteError, SecretError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_REMOTE)


def _utc(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


@main.command("tls-ca")
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.option("--gateway", "gateway_name", help="Which gateway (default: the only one in the inventory).")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Write the PEM here instead of stdout.")
def tls_ca(inventory: str, gateway_name: str | None, out: str | None) -> None:
    """Print the CA of a gateway with tls='selfsigned' (PEM) and its SHA-256 fingerprint.

    Install the PEM on the phones and browsers that use the gateway (iOS: AirDrop or mail it, then
    Settings > General > About > Certificate Trust Settings); compare the fingerprint when you do.

    \b
    Example:
      camgate tls-ca inventory/site.py --out site-ca.pem
    """
    gateway, data = _pick_gateway(_load_inventory_or_exit(inventory), gateway_name)
    if gateway.tls != "selfsigned":
        click.echo(f"error: {gateway.host}: field 'tls' is {gateway.tls!r}; fix: only tls='selfsigned' has a gateway CA", err=True)
        sys.exit(EXIT_INVALID)
    try:
        with remote.connect(remote.SshTarget.from_host_data(gateway.host, data)) as client:
            pem = remote.read_file(client, f"{SELFSIGNED_CA_DIR}/ca.pem", gateway.host)
    except remote.RemoteError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_REMOTE)
    if out:
        Path(out).write_text(pem)
    else:
        click.echo(pem, nl=False)
    click.echo(f"SHA-256 fingerprint: {certificate_fingerprint(pem)}", err=True)


def _load_inventory_or_exit(inventory: str):
    try:
        return load_inventory(inventory)
    except InventoryError as exc:
        for line in exc.problems:
            click.echo(f"error: {line}", err=True)
        sys.exit(EXIT_INVALID)


def _pick_gateway(entries, name: str | None):
    if name is None and len(entries) == 1:
        return entries[0]
    for gateway, data in entries:
        if gateway.host == name:
            return gateway, data
    names = ", ".join(gw.host for gw, _ in entries) or "none"
    click.echo(f"error: --gateway: {name!r} is not in the inventory; fix: use one of {names}", err=True)
    sys.exit(EXIT_INVALID)


def _print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


def _add_testbed() -> None:
    from camgate.testbed.cli import testbed

    main.add_command(testbed)


_add_testbed()


def _add_site_commands() -> None:
    from camgate.cli_site import camera, init

    main.add_command(init)
    main.add_command(camera)


_add_site_commands()


if __name__ == "__main__":
    main()
