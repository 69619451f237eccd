"""The `camgate` command line."""

from __future__ import annotations

import sys

import click

from pathlib import Path

from camgate import remote
from camgate.inventory import load_inventory
from camgate.model import InventoryError
from camgate.tls import SELFSIGNED_CA_DIR, certificate_fingerprint

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


if __name__ == "__main__":
    main()
