"""What every `camgate` command shares: the exit codes, error output, loading an inventory, tables."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from typing import Any, NoReturn

import click

from camgate.inventory import load_edges, load_inventory
from camgate.model import Edge, Gateway, InventoryError

# The exit codes scripts can rely on, for every command.
EXIT_OK = 0
EXIT_FAILURE = 1  # the command ran and found a problem: a camera down, a check failed, a disk too small
EXIT_INVALID = 2  # bad input: an argument, option or inventory value (nothing was changed)
EXIT_REMOTE = 4  # a gateway could not be reached, or a command on it failed

HostEntry = tuple[Gateway, dict[str, Any]]


def fail(lines: list[str] | str, code: int = EXIT_INVALID) -> NoReturn:
    """Print each line as `error: ...` on stderr and exit with `code`."""
    for line in [lines] if isinstance(lines, str) else lines:
        click.echo(f"error: {line}", err=True)
    sys.exit(code)


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


# Where `camgate init` puts a site's files, and so where a site named without a path is looked for.
SITES_DIR = "inventory"


def site_inventory(value: str) -> str:
    """SITE as commands take it: a site name (inventory/<name>.py) or the path of an inventory file."""
    is_path = value.endswith(".py") or "/" in value or os.sep in value
    return value if is_path else f"{SITES_DIR}/{value}.py"


def load_inventory_or_exit(inventory: str) -> list[HostEntry]:
    """Each gateway of an inventory with its pyinfra host data; exit 2 listing every problem."""
    try:
        return load_inventory(inventory)
    except InventoryError as exc:
        fail(exc.problems)


def load_edges_or_exit(inventory: str) -> list[tuple[Edge, dict]]:
    """Each caching edge of an inventory with its pyinfra host data; exit 2 listing every problem."""
    try:
        return load_edges(inventory)
    except InventoryError as exc:
        fail(exc.problems)


def load_gateways_or_exit(inventory: str) -> list[Gateway]:
    return [gateway for gateway, _data in load_inventory_or_exit(inventory)]


def pick_gateway(entries: list[HostEntry], name: str | None) -> HostEntry:
    """The gateway named by --gateway, or the only one; exit 2 naming the choices otherwise."""
    if name is None and len(entries) == 1:
        return entries[0]
    for gateway, data in entries:
        if gateway.host == name:
            return gateway, data
    names = ", ".join(gw.host for gw, _ in entries) or "none"
    fail(f"--gateway: {name!r} is not in the inventory; fix: use one of {names}")


def utc(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


def read_password(from_stdin: bool, prompt: bool, what: str = "RTSP password") -> str | None:
    """A camera password from standard input (one line) or a hidden prompt (twice); None for neither."""
    if from_stdin and prompt:
        fail("--password-stdin and --password-prompt: choose one; fix: pass only one of them")
    if prompt:
        password = click.prompt(what, hide_input=True, confirmation_prompt=True)
    elif from_stdin:
        password = sys.stdin.read()
        password = password.removesuffix("\n").removesuffix("\r")  # the line break `echo` adds
    else:
        return None
    if not password:
        fail(f"password: is empty; fix: give the camera's {what} (printf '%s' \"$PW\" | camgate camera add ... --password-stdin)")
    if "\n" in password or "\r" in password:
        fail("password: contains a line break; fix: give a single line")
    return password
