"""`camgate camera discover`: the ONVIF devices on a gateway's networks, found by a WS-Discovery
probe sent from the gateway (camgate/gateway/discovery.py, run there over SSH: the cameras are on its
private network, where the operator's machine's multicast never reaches)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlsplit

import click

from camgate import paths, remote
from camgate.cli.common import EXIT_REMOTE, fail, load_inventory_or_exit, pick_gateway, print_table, site_inventory
from camgate.gateway import discovery as discovery_script
from camgate.model import Camera
from camgate.onvif import ONVIF_PORT, split_address

NAME_SCOPE = "onvif://www.onvif.org/name/"
HARDWARE_SCOPE = "onvif://www.onvif.org/hardware/"
SSH_SLACK = 30  # seconds the SSH command may take beyond the probe's wait


@click.command("discover")
@click.argument("inventory", metavar="SITE")
@click.option("--gateway", help="The gateway to probe from (when the inventory has several).")
@click.option("--wait", type=click.FloatRange(0.5, discovery_script.MAX_WAIT), default=discovery_script.DEFAULT_WAIT,
              show_default=True, help="Seconds to collect answers.")  # fmt: skip
@click.option("--from", "sources", multiple=True, metavar="ADDRESS",
              help="Probe only from this IPv4 address of the gateway (its camera network's; repeat for several). "
                   "Default: every address it has.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the devices and skipped answers as JSON.")
def camera_discover(inventory: str, gateway: str | None, wait: float, sources: tuple[str, ...], as_json: bool) -> None:
    """List the ONVIF devices on the networks of SITE's gateway (SITE: a site name or an inventory file): a WS-Discovery probe (UDP multicast to
    239.255.255.250:3702) sent from the gateway, from each of its IPv4 addresses, answers collected
    for --wait seconds. For each device: its address, maker and model (from its scopes), its ONVIF
    device service and whether the site already has it (a camera whose url, sub_url or onvif has
    that address). Answers that are not ONVIF, or not readable, are listed as notes. Changes
    nothing (while it listens, a firewall rule lets the answers in; it is deleted afterwards).
    Exits 0 (also when nothing answers: the likely causes are printed), 2 on bad input, 4 when
    the gateway cannot be reached or the probe fails there.

    \b
    Example:
      camgate camera discover inventory/site.py --wait 5
      camgate camera discover mysite --from 192.168.1.2     # probe only the cameras' network
      camgate camera onvif inventory/site.py 192.168.1.20:80 --username admin --password-prompt
    """
    site, data = pick_gateway(load_inventory_or_exit(site_inventory(inventory)), gateway)
    for source in sources:
        if not discovery_script.is_ipv4(source):
            fail(f"--from: {source!r} is not an IPv4 address; fix: give one of the gateway's addresses, e.g. 192.168.1.2")
    request = {"wait": wait, "to": None, "interfaces": list(sources) or None, "table": paths.FIREWALL_TABLE}
    try:
        report = run_discovery(site.host, data, request)
    except remote.RemoteError as exc:
        fail(str(exc), EXIT_REMOTE)
    rows = sorted((device_row(device, site.cameras) for device in report["devices"]), key=lambda row: address_order(row["address"]))
    if as_json:
        click.echo(json.dumps({"gateway": site.host, **report, "devices": rows}, indent=2))
        return
    print_discovery(inventory, site.host, rows, report)


def run_discovery(host: str, data: dict, request: dict) -> dict:
    """The gateway's discovery report (see camgate/gateway/discovery.py); RemoteError if it fails."""
    script = Path(discovery_script.__file__).read_text()
    with remote.connect(remote.SshTarget.from_host_data(host, data)) as client:
        try:
            code, out, err = remote.run(client, ["python3", "-c", script], input=json.dumps(request),
                                        timeout=request["wait"] + SSH_SLACK)  # fmt: skip
        except OSError as exc:  # the SSH channel timed out or dropped mid-run
            raise remote.RemoteError(f"{host}: discovery did not finish: {exc or type(exc).__name__}") from exc
    if code != 0:
        raise remote.RemoteError(f"{host}: discovery failed (exit {code}): {err.strip()[-300:] or 'no message'}")
    try:
        report = json.loads(out)
    except json.JSONDecodeError as exc:
        raise remote.RemoteError(f"{host}: discovery printed no report ({exc}): {out.strip()[-200:]}") from None
    return report


def address_order(address: str) -> tuple[int, ...]:
    """Sorts IPv4 addresses by number (10.0.0.9 before 10.0.0.10); anything else after them."""
    parts = address.split(".")
    return tuple(int(p) for p in parts) if len(parts) == 4 and all(p.isdigit() for p in parts) else (256,)


def maker_model(scopes: list[str]) -> tuple[str | None, str | None]:
    """(name, hardware) from a device's ONVIF scopes, URL-decoded; None where it has no such scope.
    The name scope is the device's own name, often maker and model; hardware is the model."""
    name = next((unquote(s[len(NAME_SCOPE):]) for s in scopes if s.startswith(NAME_SCOPE)), None)
    hardware = next((unquote(s[len(HARDWARE_SCOPE):]) for s in scopes if s.startswith(HARDWARE_SCOPE)), None)
    return name or None, hardware or None


def maker_model_cell(scopes: list[str]) -> str:
    """"name / hardware", without repeating a model the name already says; "-" when neither."""
    name, hardware = maker_model(scopes)
    if name and hardware and hardware in name:
        return name
    return " / ".join(part for part in (name, hardware) if part) or "-"


def device_service(xaddrs: list[str], sender: str) -> str | None:
    """The device service URL to use: among the XAddrs (http or https), the first whose host is the
    address the answer came from (a camera may also list addresses of other networks), else the first."""
    urls = [x for x in xaddrs if x.startswith(("http://", "https://")) and url_host(x)]
    return next((x for x in urls if url_host(x) == sender), urls[0] if urls else None)


def url_host(url: str | None) -> str | None:
    """The host of a URL; None for none or a URL that does not parse (a device's XAddrs can be anything)."""
    try:
        return urlsplit(url).hostname if url else None
    except ValueError:
        return None


def onvif_address(url: str) -> str:
    """ADDRESS:PORT of a device service URL, as `camgate camera onvif` takes it."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.hostname}:{port or (443 if parts.scheme == 'https' else ONVIF_PORT)}"


def camera_hosts(camera: Camera) -> set[str]:
    """The hosts a camera of the site is reached at: its url's, sub_url's and onvif's."""
    hosts = {url_host(camera.url), url_host(camera.sub_url), split_address(camera.onvif)[0] if camera.onvif else None}
    return {host for host in hosts if host}


def camera_at(addresses: set[str], cameras: tuple[Camera, ...] | list[Camera]) -> str | None:
    """The id of the site's first camera at one of these addresses, None if none is."""
    return next((camera.id for camera in cameras if camera_hosts(camera) & addresses), None)


def device_row(device: dict, cameras) -> dict:
    """A device of the gateway's report with what the table shows: maker/model, device service, in site."""
    service = device_service(device.get("xaddrs", []), device["address"])
    name, hardware = maker_model(device.get("scopes", []))
    addresses = {device["address"], *([url_host(service)] if service else [])}
    return {**device, "name": name, "hardware": hardware, "maker_model": maker_model_cell(device.get("scopes", [])),
            "device_service": service, "in_site": camera_at(addresses, cameras)}  # fmt: skip


def skipped_note(skipped: dict) -> str:
    """One `note:` line naming the device that answered, why it is left out and what to do."""
    where = f"{skipped['address']}" + (f" (on {skipped['local']})" if skipped.get("local") else "")
    reason = skipped["reason"]
    if reason.startswith("not an ONVIF device"):
        fix = "fix: if it is a camera, turn ONVIF on in its settings; or add it by its RTSP URL with `camgate camera add`"
    elif reason.startswith("malformed XML"):
        fix = "fix: none needed here; if it is a camera, update its firmware or add it by its RTSP URL"
    else:
        fix = "not an answer to this probe (another client's discovery, or a stray datagram): nothing to do"
    return f"note: {where} skipped: {reason}; {fix}"


def print_discovery(inventory: str, host: str, rows: list[dict], report: dict) -> None:
    interfaces = ", ".join(report.get("interfaces") or []) or "the default route"
    if rows:
        print_table(("ADDRESS", "ANSWERED ON", "MAKER/MODEL", "DEVICE SERVICE", "IN SITE"),
                    [(r["address"], r.get("local") or "-", r["maker_model"], r["device_service"] or "-",
                      r["in_site"] or "-") for r in rows])  # fmt: skip
    else:
        click.echo(f"No ONVIF device answered {host}'s probe (from {interfaces}). Likely causes:")
        click.echo("  - ONVIF or discovery is off in the camera's settings: turn both on (some cameras call it 'WS-Discovery');")
        click.echo("  - the camera is on another subnet or VLAN than the gateway: multicast does not cross routers;"
                   " give it an address on the gateway's network, or add it by address with `camgate camera onvif`;")  # fmt: skip
        click.echo("  - a firewall between them drops UDP port 3702 (multicast to 239.255.255.250 and the answers back).")
    for skipped in report.get("skipped", []):
        click.echo(skipped_note(skipped))
    for note in report.get("notes", []):
        click.echo(f"note: {host}: {note}")
    new = next((r for r in rows if not r["in_site"] and r["device_service"]), None)
    if new:
        address = onvif_address(new["device_service"])
        click.echo(f"next: camgate camera onvif {inventory} {address} --username admin --password-prompt  (reads it, changes nothing)")
        click.echo(f"      camgate camera add {inventory} ID --onvif {address} --username admin --password-prompt  (adds it to the site)")
