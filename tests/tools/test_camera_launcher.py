"""The camera launcher (templates/bin/camgate-camera-run.j2), run by this machine's bash with a stand-in
for ffmpeg: the URL goes in from the credential, credentials are masked in what ffmpeg logs, and a run
of timestamp rewrites (a camera clock that jumped back) stops ffmpeg so systemd restarts it in sync."""

import subprocess
import time

from camgate.ffmpeg import RTSP_URL_PLACEHOLDER
from camgate.render import render
from roles.cameras import BACKOFF

URL = "rtsp://viewer:s3cr%40t@192.0.2.10:554/stream1"
DTS = "[hls @ 0x55] Non-monotonous DTS in output stream 0:0; previous: 90000, current: 450; changing to 90001."


def launcher(tmp_path, stderr_lines: list[str], then_sleep: float = 30, grace: int = 0) -> subprocess.Popen:
    """The launcher with a stand-in ffmpeg that logs `stderr_lines`; `grace` replaces the deployed
    grace period (BACKOFF['dts_grace']) so a test need not wait it out."""
    script = tmp_path / "camgate-camera-run"
    script.write_text(render("bin/camgate-camera-run.j2", placeholder=RTSP_URL_PLACEHOLDER, **{**BACKOFF, "dts_grace": grace}))
    script.chmod(0o755)
    fake = tmp_path / "ffmpeg"
    lines = "\n".join(["$1 opened"] + stderr_lines)
    fake.write_text(f"#!/bin/bash\ncat >&2 <<EOF\n{lines}\nEOF\nexec sleep {then_sleep}\n")
    fake.chmod(0o755)
    credentials = tmp_path / "credentials"
    credentials.mkdir(exist_ok=True)
    (credentials / "rtsp-url").write_text(URL)
    runtime = tmp_path / "runtime"
    runtime.mkdir(exist_ok=True)
    env = {"PATH": "/usr/bin:/bin", "CREDENTIALS_DIRECTORY": str(credentials), "RUNTIME_DIRECTORY": str(runtime)}
    return subprocess.Popen([str(script), str(fake), RTSP_URL_PLACEHOLDER], env=env, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, within: float) -> tuple[int | None, str]:
    """(exit status or None if still running after `within` s, what it logged); always stopped after."""
    deadline = time.monotonic() + within
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    status = proc.poll()
    if status is None:
        proc.kill()
    return status, proc.communicate(timeout=10)[1]


def test_ffmpeg_gets_the_url_and_its_credentials_are_masked_in_the_log(tmp_path):
    status, log = finish(launcher(tmp_path, [], then_sleep=0), within=10)
    assert status == 0
    assert "rtsp://***@192.0.2.10:554/stream1 opened" in log and "s3cr" not in log


def test_a_run_of_timestamp_rewrites_stops_ffmpeg_to_resync(tmp_path):
    status, log = finish(launcher(tmp_path, [DTS] * (BACKOFF["dts_run"] + 5)), within=10)
    assert status is not None and status != 0, "ffmpeg was not stopped"
    assert "timestamps jumped back (20 packets in a row): restarting ffmpeg to resync" in log


def failures_after_a_start(tmp_path, previous_exit: str | None) -> int:
    """The failure count the launcher keeps after one start that follows a run ended as given."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(exist_ok=True)
    (runtime / ".restarts").write_text(f"{int(time.time()) - 5} 3\n")  # three quick failures so far
    if previous_exit:
        (runtime / ".stopped").write_text(previous_exit + "\n")  # what the unit's ExecStopPost writes
    finish(launcher(tmp_path, [], then_sleep=0), within=10)
    assert not (runtime / ".stopped").exists()
    return int((runtime / ".restarts").read_text().split()[1])


def test_only_runs_that_ended_by_themselves_count_toward_the_backoff(tmp_path):
    assert failures_after_a_start(tmp_path, "exited 1") == 4  # connection refused, 401, ...
    assert failures_after_a_start(tmp_path, "exited 0") == 4  # the camera hung up
    assert failures_after_a_start(tmp_path, "exited 255") == 3  # SIGTERM: a deploy, an admin, a resync
    assert failures_after_a_start(tmp_path, "killed 9") == 3
    assert failures_after_a_start(tmp_path, None) == 4


def test_a_timestamp_step_at_the_start_of_a_run_is_left_alone(tmp_path):
    """RTSP timestamps often step once when the first RTCP sender reports arrive: no restart loop."""
    status, log = finish(launcher(tmp_path, [DTS] * 40, then_sleep=30, grace=BACKOFF["dts_grace"]), within=3)
    assert status is None and "restarting ffmpeg" not in log


def test_scattered_timestamp_warnings_are_left_alone(tmp_path):
    scattered = [DTS] * (BACKOFF["dts_run"] - 1) + ["[rtsp @ 0x1] RTP: missed 3 packets"] + [DTS] * 5
    status, log = finish(launcher(tmp_path, scattered, then_sleep=30), within=3)
    assert status is None, f"stopped for warnings that were not a run: {log}"
