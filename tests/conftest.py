"""Shared pytest setup: phase timings printed at the end of every run."""

import time
from contextlib import contextmanager

PHASES: list[tuple[str, float]] = []


@contextmanager
def phase(name: str):
    """Time one phase of the suite (testbed up, deploy, ...); printed in the summary."""
    start = time.monotonic()
    try:
        yield
    finally:
        PHASES.append((name, time.monotonic() - start))


def pytest_terminal_summary(terminalreporter):
    if not PHASES:
        return
    terminalreporter.section("phase timings")
    for name, seconds in PHASES:
        terminalreporter.write_line(f"{name:<40} {seconds:7.1f} s")
