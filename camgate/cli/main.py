"""The `camgate` command group: every command, registered from the module of its concern."""

from __future__ import annotations

import click

from camgate.cli import discover, inspect, monitor, onvif, prepare, site, streams, testbed


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="camgate")
def main() -> None:
    """camgate: provision RTSP-to-HLS CCTV gateways with pyinfra, and prove they work.

    \b
    Exit codes: 0 ok, 1 a problem found (camera down, check failed, disk too small),
    2 bad input (nothing changed), 4 a gateway unreachable or a command on it failed.

    \b
    Example:
      camgate validate inventory/prod.py
      pyinfra inventory/prod.py deploy.py
      camgate urls inventory/prod.py
    """


for command in (*prepare.COMMANDS, *streams.COMMANDS, *inspect.COMMANDS, *monitor.COMMANDS, *site.COMMANDS, testbed.testbed):
    main.add_command(command)
site.camera.add_command(onvif.camera_onvif)
site.camera.add_command(onvif.camera_tune)
site.camera.add_command(discover.camera_discover)
