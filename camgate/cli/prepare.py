"""Commands for before a deploy, touching no host: validate an inventory, plan bandwidth and disk."""

from __future__ import annotations

import sys

import click

from camgate.cli.common import EXIT_FAILURE, EXIT_OK, fail, load_gateways_or_exit, print_table
from camgate.plan import plan_site, probed
from camgate.units import format_bytes, parse_size


@click.command()
@click.argument("inventory", type=click.Path(dir_okay=False))
def validate(inventory: str) -> None:
    """Check an inventory (fields and secret references) without touching any host.

    Exits 0 when valid, 2 with one line per problem otherwise.

    \b
    Example:
      camgate validate inventory/prod.py
    """
    gateways = load_gateways_or_exit(inventory)
    for gw in gateways:
        enabled = len(gw.enabled_cameras)
        click.echo(f"{gw.host}: {enabled} enabled camera(s) of {len(gw.cameras)}, served as {gw.domain}")
    click.echo(f"ok: {len(gateways)} gateway(s)")


@click.command()
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.option("--viewers", default=5, show_default=True, type=click.IntRange(0, 100_000),
              help="How many people watch at once (each watching every camera: the worst case).")
@click.option("--disk", help="Disk for recordings, e.g. 2T (default: recordings_max_size of the gateways).")
def plan(inventory: str, viewers: int, disk: str | None) -> None:
    """Bandwidth in from the cameras and out to viewers, recording storage per day and week, and
    how many days the disk holds, and each camera's expected live latency in a standard player
    (three target durations plus about a second; the target is the larger of hls_time and the
    camera's keyframe interval). Uses what `camgate probe` measured where there is any, else each
    camera's bitrate_kbps. Exits 1 when the disk cannot hold the retention asked for.

    \b
    Example:
      camgate plan inventory/site.py --viewers 20 --disk 4T
    """
    if disk is not None and parse_size(disk) is None:
        fail(f"--disk: {disk!r} is not a size; fix: use e.g. 500G or 2T")
    gateways = load_gateways_or_exit(inventory)
    site = plan_site(gateways, probed(inventory), viewers, disk)
    rows = [
        (c.gateway, c.camera, f"{c.kbps / 1000:.2f} Mbit/s", c.source,
         format_bytes(c.bytes_per_day) if c.record else "-", format_bytes(c.bytes_per_day * 7) if c.record else "-",
         c.retention if c.record else "-", format_bytes(c.bytes_for_retention) if c.record else "-",
         f"~{c.latency_s} s", f"{c.transcode_cpu:g} %" if c.transcode_cpu else "-")
        for c in site.cameras
    ]  # fmt: skip
    print_table(("GATEWAY", "CAMERA", "BITRATE", "FROM", "PER DAY", "PER WEEK", "RETENTION", "NEEDS", "LATENCY", "TRANSCODE CPU"), rows)
    click.echo("")
    click.echo(f"in from cameras:   {site.in_mbps:.1f} Mbit/s")
    click.echo(f"out to {viewers} viewers: {site.out_mbps:.1f} Mbit/s (every viewer on every camera)")
    click.echo(f"recordings:        {format_bytes(site.bytes_per_day)}/day, {format_bytes(site.bytes_per_day * 7)}/week")
    if site.transcode_cpu:
        click.echo(f"transcoding:       {site.transcode_cpu:.0f} % of one core (video='transcode' cameras; "
                   "a 2-core gateway has 200 %)")  # fmt: skip
    if site.days_held is not None:
        click.echo(f"disk {format_bytes(site.disk_bytes)} holds {site.days_held:.1f} days of recordings")
    elif site.bytes_per_day:
        click.echo("disk: no recordings_max_size; pass --disk SIZE to see how many days it holds")
    for warning in site.warnings():
        click.echo(f"warning: {warning}", err=True)
    sys.exit(EXIT_FAILURE if site.warnings() else EXIT_OK)



COMMANDS = (validate, plan)
