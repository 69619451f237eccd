"""Shared pytest setup: phase timings printed at the end of every run; in CI (CI=true), a test
skipped for want of a tool, browser or emulator fails instead, so that a missing part cannot pass."""

import os
import time
from contextlib import contextmanager

import pytest

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


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every tool must be present (CI=true): {reason}"
