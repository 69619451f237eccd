"""How a failing camera is restarted: systemd's RestartSec in its unit
(templates/systemd/camgate-camera.service.j2) and the launcher's back-off on top of it
(templates/bin/camgate-camera-run.j2). Both templates are rendered from these numbers, and the tests
derive what they expect of a failing camera from the same schedule."""

from __future__ import annotations

RESTART_SEC = 1  # systemd's wait before each restart: a camera that blinks is back within seconds
# fast_retries quick restarts in a row, then each one waits step s longer, up to max_delay s; a run of
# healthy_run s or more starts the count afresh. dts_run timestamp rewrites in a row (not in the first
# dts_grace s of a run) make the launcher restart ffmpeg to resync.
BACKOFF = {"fast_retries": 10, "step": 5, "max_delay": 30, "healthy_run": 60, "dts_run": 20, "dts_grace": 10}


def backoff_delay(failures: int) -> int:
    """Seconds the launcher waits, on top of RestartSec, before the start that follows `failures`
    quick failures in a row."""
    beyond = max(0, failures - BACKOFF["fast_retries"])
    return min(beyond * BACKOFF["step"], BACKOFF["max_delay"])


def starts_within(window: float, run_s: float) -> int:
    """How many restarts (systemd's NRestarts) a camera gets within `window` s of the end of a
    healthy run (longer than healthy_run) when every run after it fails `run_s` s into ffmpeg. The
    launcher counts the healthy run's end as no failure, so the k-th restart follows k - 1 failures;
    systemd counts a restart when it starts the launcher, which then waits its back-off."""
    elapsed, starts = 0.0, 0
    while True:
        elapsed += RESTART_SEC
        if elapsed > window:
            return starts
        starts += 1
        elapsed += backoff_delay(starts - 1) + run_s
