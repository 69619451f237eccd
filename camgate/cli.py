"""The `camgate` command line."""

from __future__ import annotations

import sys

import click

from camgate.inventory import load_gateways
from camgate.model import InventoryError

# Exit codes scripts can rely on.
EXIT_OK = 0
EXIT_INVALID = 2


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
    try:
        return load_gateways(inventory)
    except InventoryError as exc:
        for line in exc.problems:
            click.echo(f"error: {line}", err=True)
        sys.exit(EXIT_INVALID)


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


@main.command()
@click.argument("inventory", type=click.Path(dir_okay=False))
def urls(inventory: str) -> None:
    """Print the live HLS URL of every enabled camera.

    \b
    Example:
      camgate urls inventory/testbed.py
      ffplay "$(camgate urls inventory/testbed.py | awk 'NR==2 {print $3}')"
    """
    gateways = _load_or_exit(inventory)
    rows = [(gw.host, cam.id, gw.hls_url(cam)) for gw in gateways for cam in gw.enabled_cameras]
    _print_table(("GATEWAY", "CAMERA", "HLS URL"), rows)


def _print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


def _add_testbed() -> None:
    from camgate.testbed.cli import testbed

    main.add_command(testbed)


_add_testbed()
