"""Commands for the monitoring side of a fleet: Prometheus's scrape config for the gateways."""

from __future__ import annotations

import click

from camgate.cli.common import fail, load_edges_or_exit, load_inventory_or_exit
from camgate.monitoring import scrape_config


@click.command("prometheus-config")
@click.argument("inventories", metavar="INVENTORY...", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--password-file", default="/etc/prometheus/camgate/{gateway}.password", show_default=True,
              help="File on the Prometheus server holding the metrics user's password; {gateway} is the host name.")
@click.option("--ca-file", help="CA bundle on the Prometheus server that the gateways' certificates chain to "
              "({gateway} allowed). Default: the system's, or /etc/prometheus/camgate/{gateway}-ca.pem with tls='selfsigned'.")
@click.option("--address", type=click.Choice(["domain", "ssh"]), default="domain", show_default=True,
              help="Scrape each gateway at its domain, or at the address pyinfra reaches it at (the certificate is checked for the domain).")
@click.option("--interval", default="30s", show_default=True, help="Scrape interval (Prometheus duration).")
def prometheus_config(inventories: tuple[str, ...], password_file: str, ca_file: str | None, address: str, interval: str) -> None:
    """Print Prometheus scrape configs for every gateway and caching edge that serves metrics (metrics_from).

    Paste the output under your prometheus.yml (or include it), put each host's metrics password
    (the one whose hash is its metrics_password_ref) in the password file, and load the alert rules
    of docs/examples/prometheus/. An edge has two jobs: its host (/metrics) and its traffic
    (/metrics/cache). Exits 2 when no gateway or edge serves metrics.

    \b
    Example:
      camgate prometheus-config inventory/site-a.py inventory/site-b.py > /etc/prometheus/camgate.yml
    """
    entries = [entry for inventory in inventories for entry in load_inventory_or_exit(inventory) + load_edges_or_exit(inventory)]
    if not any(site.metrics for site, _ in entries):
        fail("no gateway or edge serves metrics; fix: set metrics_from and metrics_password_ref on them (docs/metrics.md)")
    click.echo(scrape_config(entries, password_file, ca_file, address, interval), nl=False)


COMMANDS = (prometheus_config,)
