"""`camgate camera onvif`: what an ONVIF camera on a gateway's network says about itself, read
through an SSH tunnel to that gateway (the operator's machine rarely reaches the cameras directly)."""

from __future__ import annotations

from contextlib import nullcontext

import click

from camgate import remote
from camgate.cli.common import EXIT_FAILURE, EXIT_REMOTE, fail, load_inventory_or_exit, pick_gateway, print_table, read_password
from camgate.model import CAMERA_DEFAULTS
from camgate.onvif import Device, OnvifError, read_device
from camgate.probe import expected_latency

ONVIF_PORT = 80  # the device service's port on nearly every camera


@click.command("onvif")
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.argument("address")
@click.option("--username", help="The camera's ONVIF user (often its admin account).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (one line).")
@click.option("--password-prompt", is_flag=True, help="Ask for the password (hidden, twice).")
@click.option("--gateway", help="The gateway whose network the camera is on (when the inventory has several).")
@click.option("--direct", is_flag=True, help="Connect from this machine instead of through the gateway.")
@click.option("--timeout", type=click.FloatRange(1, 300), default=20, show_default=True, help="Seconds for all the calls together.")
def camera_onvif(inventory: str, address: str, username: str | None, password_stdin: bool, password_prompt: bool,
                 gateway: str | None, direct: bool, timeout: float) -> None:
    """Read an ONVIF camera (ADDRESS, or ADDRESS:PORT; port 80 by default) from its gateway: maker,
    model, firmware, clock, and every media profile with its codec, size, frame rate, keyframe
    interval, bitrate, RTSP stream URI and snapshot URI, and the live latency each would give.
    Changes nothing on the camera. Media2 is used where the camera offers it (H.265 profiles
    appear only there). Exits 0, 1 when the camera cannot be read (the reason and the fix are
    printed), 2 on bad input, 4 when the gateway cannot be reached.

    \b
    Example:
      printf '%s' "$CAM_PW" | camgate camera onvif inventory/site.py 192.168.1.20 --username admin --password-stdin
    """
    host, port = _address_or_exit(address)
    password = read_password(password_stdin, password_prompt, what="ONVIF password")
    site, data = pick_gateway(load_inventory_or_exit(inventory), gateway)
    try:
        connection = nullcontext() if direct else remote.connect(remote.SshTarget.from_host_data(site.host, data))
        with connection as client:
            with nullcontext(port) if direct else remote.tunnel(client, host, port) as local_port:
                device = read_device(host if direct else "127.0.0.1", local_port, username, password,
                                     timeout=timeout, name=f"{host}:{port}")
    except remote.RemoteError as exc:
        fail(str(exc), EXIT_REMOTE)
    except OnvifError as exc:
        fail(str(exc), EXIT_FAILURE)
    _print_device(device, host, port)


def _address_or_exit(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":") if address.count(":") == 1 else (address, "", "")
    host = host or address
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        fail(f"ADDRESS: {address!r} has no valid port; fix: give ADDRESS or ADDRESS:PORT, e.g. 192.168.1.20:8080")
    if not host or any(c.isspace() or c in "/@" for c in host):
        fail(f"ADDRESS: {address!r} is not a host; fix: give the camera's IP address or name, e.g. 192.168.1.20")
    return host, int(port) if port else ONVIF_PORT


def _print_device(device: Device, host: str, port: int) -> None:
    click.echo(f"{host}:{port}: {device.manufacturer} {device.model}, firmware {device.firmware}, serial {device.serial}")
    click.echo(f"clock: {device.clock_note or f'within {abs(device.clock_offset):.0f} s of this machine'}")
    hls_time = CAMERA_DEFAULTS["hls_time"]
    print_table(
        ("PROFILE", "SERVICE", "VIDEO", "SIZE", "FPS", "KEYFRAMES", "BITRATE", "LATENCY", "STREAM"),
        [(p.name, p.media, p.encoding, f"{p.width}x{p.height}", f"{p.fps:g}" if p.fps else "-",
          f"every {p.keyframe_interval:g} s" if p.keyframe_interval else "-",
          f"{p.bitrate_kbps / 1000:.2f} Mbit/s" if p.bitrate_kbps else "-",
          f"about {expected_latency(hls_time, p.keyframe_interval)} s", p.stream_uri)
         for p in device.profiles],
    )  # fmt: skip
    for profile in device.profiles:
        if profile.snapshot_uri:
            click.echo(f"snapshot: {profile.name}: {profile.snapshot_uri}")
    slow = [p.name for p in device.profiles if p.keyframe_interval and p.keyframe_interval > hls_time]
    if slow:
        click.echo(f"advice: {', '.join(slow)}: a keyframe less often than every {hls_time} s (the segment length) "
                   "makes live view lag; set the camera's keyframe interval (GOP) to 1-2 s")
