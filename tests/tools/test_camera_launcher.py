"""The camera launcher (templates/bin/camgate-camera-run.j2), run by this machine's bash with a stand-in
for ffmpeg: the URL goes in from the credential, credentials are masked in what ffmpeg logs, and a run
of timestamp rewrites (a camera clock that jumped back) stops ffmpeg so systemd restarts it in sync;
with this machine's ffmpeg: a restart keeps the media sequence numbers players already saw."""

import subprocess
import time

from camgate.ffmpeg import PLAYLIST_NAME, RTSP_URL_PLACEHOLDER, hls_options
from camgate.model import parse_gateway
from camgate.restarts import BACKOFF, backoff_delay
from roles.cameras import launcher_script
from tests.players.hls import Playlist, parse_playlist, renumbered, sequence_numbers

URL = "rtsp://viewer:s3cr%40t@192.0.2.10:554/stream1"
DTS = "[hls @ 0x55] Non-monotonous DTS in output stream 0:0; previous: 90000, current: 450; changing to 90001."


def launcher(tmp_path, stderr_lines: list[str], then_sleep: float = 30, grace: int = 0) -> subprocess.Popen:
    """The launcher with a stand-in ffmpeg that logs `stderr_lines`; `grace` replaces the deployed
    grace period (BACKOFF['dts_grace']) so a test need not wait it out."""
    fake = tmp_path / "ffmpeg"
    lines = "\n".join(["$1 opened"] + stderr_lines)
    fake.write_text(f"#!/bin/bash\ncat >&2 <<EOF\n{lines}\nEOF\nexec sleep {then_sleep}\n")
    fake.chmod(0o755)
    return start_launcher(tmp_path, [str(fake), RTSP_URL_PLACEHOLDER], grace=grace)


def start_launcher(tmp_path, argv: list[str], url: str = URL, grace: int = 0, path: str = "/usr/bin:/bin") -> subprocess.Popen:
    """The deployed launcher running `argv` as a camera unit does: the URL from its credential,
    tmp_path/runtime as the unit's runtime directory (which holds its HLS)."""
    script = tmp_path / "camgate-camera-run"
    script.write_text(launcher_script(dts_grace=grace))
    script.chmod(0o755)
    credentials = tmp_path / "credentials"
    credentials.mkdir(exist_ok=True)
    (credentials / "rtsp-url").write_text(url)
    runtime = tmp_path / "runtime"
    runtime.mkdir(exist_ok=True)
    env = {"PATH": path, "CREDENTIALS_DIRECTORY": str(credentials), "RUNTIME_DIRECTORY": str(runtime)}
    return subprocess.Popen([str(script), *argv], env=env, stderr=subprocess.PIPE, text=True)


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


def start_after(tmp_path, last_start_ago: int, failures: int) -> tuple[int, int]:
    """One start of the launcher whose last start was `last_start_ago` s ago, after `failures` quick
    failures in a row, its ffmpeg failing at once: (the count it keeps, the seconds it waited). Its
    `sleep` is a stand-in that notes the seconds instead of waiting them."""
    bin_dir, runtime = tmp_path / "bin", tmp_path / "runtime"
    bin_dir.mkdir(exist_ok=True)
    runtime.mkdir(exist_ok=True)
    waited = tmp_path / "waited"
    waited.write_text("")
    (bin_dir / "sleep").write_text(f"#!/bin/bash\necho \"$1\" >> {waited}\n")
    (bin_dir / "ffmpeg").write_text("#!/bin/bash\nexit 1\n")
    for stand_in in ("sleep", "ffmpeg"):
        (bin_dir / stand_in).chmod(0o755)
    (runtime / ".restarts").write_text(f"{int(time.time()) - last_start_ago} {failures}\n")
    (runtime / ".stopped").write_text("exited 1\n")  # the run before failed by itself
    status, log = finish(start_launcher(tmp_path, [str(bin_dir / "ffmpeg"), RTSP_URL_PLACEHOLDER], path=f"{bin_dir}:/usr/bin:/bin"), within=10)
    assert status == 1, log
    return int((runtime / ".restarts").read_text().split()[1]), sum(int(line) for line in waited.read_text().split())


def test_a_failing_camera_is_restarted_on_the_backoff_schedule(tmp_path):
    """The launcher's waits, start after start, are camgate.restarts.backoff_delay's, from which the
    fault tests derive what they expect: none for the first quick retries, then longer, capped."""
    schedule = []
    for failures in range(BACKOFF["fast_retries"] + 10):
        kept, waited = start_after(tmp_path, last_start_ago=2, failures=failures)
        assert kept == failures + 1
        schedule.append(waited)
    assert schedule == [backoff_delay(n + 1) for n in range(len(schedule))], schedule
    assert schedule[: BACKOFF["fast_retries"]] == [0] * BACKOFF["fast_retries"]
    assert schedule[BACKOFF["fast_retries"]] == BACKOFF["step"] and schedule[-1] == BACKOFF["max_delay"]


def test_a_long_enough_run_starts_the_count_afresh(tmp_path):
    assert start_after(tmp_path, last_start_ago=BACKOFF["healthy_run"] + 1, failures=25) == (0, 0)
    assert start_after(tmp_path, last_start_ago=BACKOFF["healthy_run"] - 5, failures=25) == (26, BACKOFF["max_delay"])


def test_a_timestamp_step_at_the_start_of_a_run_is_left_alone(tmp_path):
    """RTSP timestamps often step once when the first RTCP sender reports arrive: no restart loop."""
    status, log = finish(launcher(tmp_path, [DTS] * 40, then_sleep=30, grace=BACKOFF["dts_grace"]), within=3)
    assert status is None and "restarting ffmpeg" not in log


def test_scattered_timestamp_warnings_are_left_alone(tmp_path):
    scattered = [DTS] * (BACKOFF["dts_run"] - 1) + ["[rtsp @ 0x1] RTP: missed 3 packets"] + [DTS] * 5
    status, log = finish(launcher(tmp_path, scattered, then_sleep=30), within=3)
    assert status is None, f"stopped for warnings that were not a run: {log}"


def camera():
    return parse_gateway("gw", {"domain": "gw.example", "tls": "off", "cameras": [{"id": "cam1", "url": "rtsp://192.0.2.1/a", "hls_time": 1}]}).cameras[0]


def hls_run(tmp_path, seconds: int, restart_count: int = 0) -> Playlist:
    """The launcher running this machine's ffmpeg the way a camera unit does (camgate's HLS options,
    a test pattern for the camera, 1 s segments), for `seconds` of stream; the playlist it leaves."""
    runtime = tmp_path / "runtime"
    hls = dict(hls_options(camera(), str(runtime)))
    argv = [
        "/usr/bin/ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-f", "lavfi", "-i", RTSP_URL_PLACEHOLDER,
        "-t", str(seconds), "-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p", "-f", "hls",
        *[arg for key, value in hls.items() for arg in (f"-{key}", value)], str(runtime / PLAYLIST_NAME),
    ]  # fmt: skip
    proc = start_launcher(tmp_path, argv, url="testsrc2=size=320x180:rate=25")
    status, log = finish(proc, within=seconds + 60)
    assert status == 0, log
    return parse_playlist((runtime / PLAYLIST_NAME).read_text())


def test_a_restarted_camera_keeps_the_media_sequence_numbers_of_the_segments_still_listed(tmp_path):
    first = hls_run(tmp_path, seconds=6)
    restarted = hls_run(tmp_path, seconds=3)

    assert first.media_sequence > 1_700_000_000  # a first run numbers from the Unix time (edge caches)
    assert renumbered(first, restarted) == []
    new = [s for s in restarted.segments if s.uri not in sequence_numbers(first)]
    assert new and new[0].discontinuity, restarted
    assert max(sequence_numbers(restarted).values()) < first.media_sequence + 20  # numbered on, no jump


def test_a_restart_numbers_on_from_the_playlist_also_inside_a_tee(tmp_path):
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    (runtime / PLAYLIST_NAME).write_text("#EXTM3U\n")
    slave = "[f=hls:hls_time=1:hls_start_number_source=epoch]stream.m3u8"
    echo = tmp_path / "echo-args"
    echo.write_text('#!/bin/bash\nprintf "%s\\n" "$@" >&2\n')
    echo.chmod(0o755)

    _, log = finish(start_launcher(tmp_path, [str(echo), "-f", "tee", slave, "-hls_start_number_source", "epoch"]), within=10)

    assert "[f=hls:hls_time=1:hls_start_number_source=generic]stream.m3u8" in log.splitlines()
    assert "generic" in log.splitlines() and "epoch" not in log
