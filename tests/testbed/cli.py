"""`camgate testbed up|down|status`: the local testbed from the command line (make demo uses it)."""

from __future__ import annotations

import json
import os
import sys

import click

from tests.testbed.inventory import DEFAULT_STATE_DIR

from . import Testbed, TestbedError
from .rootfs import DEFAULT_SUITE, SUITES

EXIT_TESTBED = 3

state_dir_option = click.option(
    "--dir",
    "state_dir",
    default=lambda: os.environ.get("CAMGATE_TESTBED_DIR", DEFAULT_STATE_DIR),
    show_default="$CAMGATE_TESTBED_DIR or .testbed",
    help="Where the testbed keeps its state (keys, known_hosts, logs, state.json).",
)
index_option = click.option(
    "--index", default=0, show_default=True, type=click.IntRange(0, 15),
    help="Testbed number: addresses are 10.231.<index>.0/30, so several can run at once.",
)  # fmt: skip


def _require_root() -> None:
    if os.geteuid() != 0:
        click.echo("error: the testbed needs root (systemd-nspawn, network namespaces); run it as root", err=True)
        sys.exit(EXIT_TESTBED)


@click.group()
def testbed() -> None:
    """A local throwaway gateway host (systemd-nspawn) with simulated RTSP cameras.

    \b
    Example:
      camgate testbed up && pyinfra -y inventory/testbed.py deploy.py
      camgate testbed status
      camgate testbed down
    """


@testbed.command()
@state_dir_option
@index_option
@click.option("--cameras", default=3, show_default=True, type=click.IntRange(1, 16), help="Simulated cameras.")
@click.option(
    "--auth", "auth_cameras", default="cam3", show_default=True,
    help="Comma-separated cameras that require RTSP credentials.",
)  # fmt: skip
@click.option("--acme", is_flag=True, help="Also run an ACME server (pebble) the host can get certificates from.")
@click.option(
    "--zoo", default="", metavar="all|ID,...",
    help="Also start cameras of the camera zoo (H.265, G.711, MJPEG, 4 s GOP, sub profiles, digest "
    "auth, jumping timestamps): `all`, or comma-separated ids like zoo-h265-pcma.",
)  # fmt: skip
@click.option(
    "--suite", default=DEFAULT_SUITE, show_default=True, type=click.Choice(SUITES),
    help="Debian release of the host: bookworm (Debian 12) or trixie (Debian 13).",
)  # fmt: skip
def up(state_dir: str, index: int, cameras: int, auth_cameras: str, acme: bool, zoo: str, suite: str) -> None:
    """Boot the testbed host and start the cameras (a running one is replaced)."""
    _require_root()
    zoo_ids: bool | tuple[str, ...] = True if zoo == "all" else tuple(z for z in zoo.split(",") if z)
    try:
        bed = Testbed(
            state_dir, index, cameras, tuple(c for c in auth_cameras.split(",") if c), acme=acme, zoo=zoo_ids,
            suite=suite,
        )
    except TestbedError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_TESTBED)
    try:
        state = bed.up()
    except TestbedError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_TESTBED)
    click.echo(f"testbed {state['name']} ({state['suite']}) is up: ssh -F {state['ssh_config']} {state['ssh_alias']}")
    for cam in state["cameras"] + state.get("zoo", []):
        notes = [cam["kind"]] if cam.get("kind", "h264-aac") != "h264-aac" else []
        if cam.get("sub_url"):
            notes.append(f"sub {cam['sub_url']}")
        if cam.get("username"):
            notes.append(f"{cam.get('auth_method', 'basic')} auth, user {cam['username']}")
        note = f" ({'; '.join(notes)})" if notes else ""
        click.echo(f"  camera {cam['id']}: {cam['url']}{note}")
    if "acme" in state:
        click.echo(f"  ACME server: {state['acme']['server']} (its CA: {state['acme']['ca_bundle']})")
        click.echo(f"  test domain: {state['domain']} -> {state['target_address']} (DNS {state['acme']['dns']})")


@testbed.command()
@state_dir_option
@index_option
def down(state_dir: str, index: int) -> None:
    """Stop and remove the testbed: ACME server, cameras, container, overlay, network namespace, NAT rules."""
    _require_root()
    try:
        Testbed(state_dir, index).down()
    except TestbedError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_TESTBED)
    click.echo("testbed removed")


@testbed.command()
@state_dir_option
@index_option
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def status(state_dir: str, index: int, as_json: bool) -> None:
    """Show what of the testbed is running. Exits 0 when everything is up, 1 otherwise."""
    info = Testbed(state_dir, index).status()
    parts = ("network", "overlay_mounted", "container", "ssh", "acme")  # acme only when up --acme asked for it
    healthy = all(info[k] for k in parts if k in info) and all(info["cameras"].values())
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            click.echo(f"{key:16} {value}")
    sys.exit(0 if healthy and info["cameras"] else 1)
