"""`camgate testbed ...`: the local testbed is test infrastructure (tests/testbed/ of a source
checkout), so it is imported only when this command runs and never ships in the package."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from camgate.cli.common import fail

CHECKOUT = Path(__file__).resolve().parents[2]


@click.command(
    "testbed",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def testbed(args: tuple[str, ...]) -> None:
    """A local test gateway and simulated cameras (a source checkout's tests/testbed): up, down, status."""
    if not (CHECKOUT / "tests" / "testbed" / "cli.py").is_file():
        fail("the testbed is part of camgate's source checkout, not of the installed package; fix: run it from a clone (make demo)")
    if str(CHECKOUT) not in sys.path:
        sys.path.insert(0, str(CHECKOUT))
    from tests.testbed.cli import testbed as group

    group.main(args=list(args), prog_name="camgate testbed")
