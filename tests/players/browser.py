"""Real players for the tests, in Debian's headless Chromium: hls.js (hlsjs_play.mjs, play_hls) and the
app's WebRTC flow (webrtc_play.mjs, play_webrtc).

ffprobe says a segment decodes; this says a browser plays the stream: hls.js loads the playlists,
transmuxes, feeds Media Source Extensions, and the <video> element's currentTime moves with the wall
clock at the size expected. Needs `apt-get install chromium` and `npm ci --prefix tests/players`
(see browser_unavailable_reason()).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "hlsjs_play.mjs"
NODE_MODULES = HERE / "node_modules"
# The real binary first: /usr/bin/chromium is Debian's wrapper script (it sources /etc/chromium.d).
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")


class PlayerError(RuntimeError):
    """The harness failed (no browser, a hang, unreadable output): says nothing about the stream."""


def chromium_path() -> str | None:
    explicit = os.environ.get("CAMGATE_CHROMIUM")
    for candidate in ((explicit,) if explicit else ()) + CHROMIUM_CANDIDATES:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def browser_unavailable_reason() -> str | None:
    """None when play_hls() can run here; otherwise what is missing and how to get it."""
    if not shutil.which("node"):
        return "node is not installed (the browser player runs under Node.js)"
    if not chromium_path():
        return "Chromium is not installed (apt-get install chromium)"
    for package in ("playwright-core", "hls.js", "whip-whep", "@eyevinn/webrtc-player", "esbuild"):
        if not (NODE_MODULES / package / "package.json").is_file():
            return f"{NODE_MODULES / package} is missing (npm ci --prefix tests/players)"
    if not (NODE_MODULES / "hls.js" / "dist" / "hls.min.js").is_file():
        return "hls.js has no dist/hls.min.js (npm ci --prefix tests/players)"
    return None


def browser_available() -> bool:
    return browser_unavailable_reason() is None


def result_from_json(cls, data: dict):
    """A result dataclass from a player's JSON: the fields it names, the rest in `extra`."""
    names = {f.name for f in fields(cls)}
    known = {k: v for k, v in data.items() if k in names and k != "extra"}
    return cls(**known, extra={k: v for k, v in data.items() if k not in names})


@dataclass
class PlayResult:
    """What hlsjs_play.mjs saw; the fields mirror its JSON (times in seconds from the start of loading).

    `levels` are the variants in the multivariant playlist's order (one entry for a media playlist), and
    `level_played` indexes them (-1: none); hls.js's own, sorted index is each entry's "hls_index".
    """

    ok: bool = False
    url: str | None = None
    problems: list[str] = field(default_factory=list)
    harness_error: str | None = None
    fatal_errors: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    levels: list[dict] = field(default_factory=list)
    level_requested: int | str | None = None
    level_played: int | None = None
    level_switches: list[list] = field(default_factory=list)
    video_width: int = 0
    video_height: int = 0
    current_time_samples: list[list[float]] = field(default_factory=list)
    played_seconds: float = 0.0
    play_wall_seconds: float = 0.0
    stalls: int = 0
    stall_seconds: float = 0.0
    first_frame_s: float | None = None
    first_frame_current_time: float | None = None
    latency_s: float | None = None
    latency_source: str | None = None
    pdt_latency_s: float | None = None
    edge_latency_s: float | None = None
    # With camera_clock: how far the displayed picture is behind the camera's clock, from the timestamp
    # QR code the simulated cameras draw ({"readings", "unreadable", "settled", "p50_s", "p90_s",
    # "min_s", "max_s"}: the percentiles over the second half of playback).
    glass_to_glass: dict | None = None
    frag_loaded: int = 0
    frag_bytes: int = 0
    frames_decoded: int = 0
    frames_dropped: int = 0
    frames_presented: int = 0
    audio_decoded_bytes: int | None = None  # Chromium's counter: > 0 when audio was really decoded
    video_decoded_bytes: int | None = None
    manifest_codecs: list = field(default_factory=list)
    buffer_codecs: dict = field(default_factory=dict)
    program_date_time: bool = False
    blocked_requests: list[str] = field(default_factory=list)
    failed_requests: list[dict] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    page_url: str | None = None
    page_status: int | None = None  # the server's answer for the page's URL (the gateway's is 404)
    hls_js_version: str | None = None
    chromium: dict = field(default_factory=dict)
    launch_s: float | None = None
    wall_s: float | None = None
    runtime_s: float | None = None  # the whole node run, browser start and stop included
    extra: dict = field(default_factory=dict)  # keys the script added that this class does not name

    @classmethod
    def from_json(cls, data: dict) -> PlayResult:
        return result_from_json(cls, data)

    @property
    def fatal_details(self) -> list[str]:
        return [e.get("details") for e in self.fatal_errors]

    def advanced_with_wall_time(self, tolerance: float = 0.65) -> bool:
        """currentTime moved by at least `tolerance` of the wall time played since the first frame
        (a stall, a frozen playlist or a decoder that stopped makes it fall behind)."""
        if self.first_frame_s is None or self.first_frame_current_time is None:
            return False
        after = [(wall, ct) for wall, ct in self.current_time_samples if wall >= self.first_frame_s]
        if not after:
            return False
        wall = after[-1][0] - self.first_frame_s
        advanced = after[-1][1] - self.first_frame_current_time
        return wall > 0 and advanced >= tolerance * wall

    def summary(self) -> str:
        """One line for assertion messages."""
        parts = [
            f"ok={self.ok}",
            f"{self.video_width}x{self.video_height}",
            f"level={self.level_played}",
            f"played {self.played_seconds:.1f} s in {self.play_wall_seconds:.1f} s",
            f"first frame {self.first_frame_s} s",
            f"stalls={self.stalls}",
            f"latency={self.latency_s} ({self.latency_source})",
        ]
        if self.problems:
            parts.append(f"problems={self.problems}")
        if self.failed_requests:
            parts.append(f"failed={self.failed_requests[:3]}")
        if self.blocked_requests:
            parts.append(f"blocked={self.blocked_requests[:3]}")
        return "; ".join(parts)


def _descendants(pid: int) -> list[int]:
    """pid's descendants from /proc (Chromium runs in its own session, out of node's process group)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM node (playwright then closes Chromium), SIGKILL whatever is left of the tree."""
    tree = _descendants(proc.pid)
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    for pid in [proc.pid, *tree]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def play_hls(
    url: str,
    *,
    seconds: float = 15,
    level: int | None = None,
    host_map: dict[str, str] | None = None,
    ignore_https_errors: bool = True,
    startup_timeout: float = 20,
    page_origin: str | None = None,
    allow_origins: tuple[str, ...] = (),
    screenshot: str | os.PathLike | None = None,
    timeout: float | None = None,
    camera_clock: float | None = None,
) -> PlayResult:
    """Play `url` in headless Chromium with hls.js: up to `startup_timeout` s for the first frame, then
    `seconds` s of playback (a fatal error ends it early).

    level: the variant to force, numbered in the multivariant playlist's order (None: hls.js's ABR).
    host_map: {"cams.example.com": "10.231.5.2"}, so an HTTPS URL with the gateway's name reaches a
    testbed address (Chromium resolves no other name). ignore_https_errors: the certificate is checked
    by other tests. timeout: the hard limit on the whole run (default: startup + seconds + 60 s).
    camera_clock: the camera's CLOCK line (Unix ms of its running time 0, see tests/testbed/fake_camera.py):
    read each frame's timestamp from the picture and report glass_to_glass.
    Raises PlayerError when the harness itself fails; a stream that does not play is `ok=False`.
    """
    reason = browser_unavailable_reason()
    if reason:
        raise PlayerError(reason)
    command = ["node", str(SCRIPT), "--url", url, "--seconds", str(seconds),
               "--startup-timeout", str(startup_timeout), "--chromium", chromium_path()]
    if level is not None:
        command += ["--level", str(int(level))]
    for name, address in (host_map or {}).items():
        command += ["--host-map", f"{name}={address}"]
    if ignore_https_errors:
        command.append("--ignore-https-errors")
    if page_origin:
        command += ["--page-origin", page_origin]
    for origin in allow_origins:
        command += ["--allow-origin", origin]
    if screenshot:
        command += ["--screenshot", str(screenshot)]
    if camera_clock is not None:
        command += ["--camera-clock", f"{camera_clock:.3f}"]
    limit = timeout if timeout is not None else startup_timeout + seconds + 60
    data, runtime = _run_player(command, limit)
    result = PlayResult.from_json(data)
    result.runtime_s = runtime
    return result


def _run_player(command: list[str], limit: float, env_extra: dict | None = None) -> tuple[dict, float]:
    """Run a player script (node ...) with a hard time limit; its one JSON result and the run's seconds.
    Raises PlayerError when the harness itself failed."""
    script = Path(command[1]).name
    # The browser profile and Chromium's temporary files go to a directory removed whatever happens.
    with tempfile.TemporaryDirectory(prefix="camgate-player-") as tmp:
        env = {**os.environ, "TMPDIR": tmp, **(env_extra or {})}
        for proxy in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            env.pop(proxy, None)
        start = time.monotonic()
        proc = subprocess.Popen(command, cwd=HERE, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            _stop(proc)
            stdout, stderr = proc.communicate()
            raise PlayerError(f"{script} still running after {limit:.0f} s (killed): {stderr[-2000:]}")
        finally:
            if proc.poll() is None:
                _stop(proc)
        runtime = time.monotonic() - start
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise PlayerError(f"{script} exited {proc.returncode} without a result: {stderr[-2000:]}")
    try:
        data = json.loads(lines[-1])
    except json.JSONDecodeError as error:
        raise PlayerError(f"{script} printed unreadable JSON ({error}): {lines[-1][:500]}") from None
    if data.get("harness_error"):
        raise PlayerError(f"{script}: {data['harness_error']}\n{stderr[-2000:]}")
    return data, round(runtime, 2)


@dataclass
class WebRTCResult:
    """What webrtc_play.mjs saw (times in seconds from the page's start of the exchange)."""

    ok: bool = False
    url: str | None = None
    problems: list[str] = field(default_factory=list)
    harness_error: str | None = None
    # [{"step": "POST"|"DELETE", "status": 201, "at_s": 0.04, "body": error text or None}]
    signalling: list[dict] = field(default_factory=list)
    first_frame_s: float | None = None
    video_width: int = 0
    video_height: int = 0
    # getStats at the end: {"frames_decoded", "frames_dropped", "bytes", "packets_lost", "codec", "fps"}
    video: dict | None = None
    # {"packets", "bytes", "samples" (decoded), "codec"}: "audio/opus", "audio/PCMA", "audio/PCMU"
    audio: dict | None = None
    # The pair in use: {"local": "host"|"srflx"|"prflx"|"relay", "local_protocol", "remote", "remote_address"}
    candidate_pair: dict | None = None
    frames_samples: list[list] = field(default_factory=list)  # [at_s, frames decoded so far]
    audio_samples: list[list] = field(default_factory=list)  # [at_s, audio packets so far]
    frames_in_second_half: int = 0
    played_wall_s: float = 0.0
    t0_unix_ms: float | None = None  # the wall-clock time of at_s 0
    connection_states: list[list] = field(default_factory=list)
    glass_to_glass: dict | None = None
    # With viewers > 1: {"requested", "connected", "frames": [per viewer], "refused": [statuses]}
    viewers: dict | None = None
    blocked_requests: list[str] = field(default_factory=list)
    failed_requests: list[dict] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    runtime_s: float | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict) -> WebRTCResult:
        return result_from_json(cls, data)

    def status_of(self, step: str) -> int | None:
        return next((s["status"] for s in self.signalling if s["step"] == step), None)

    def frames_after(self, unix_s: float) -> int:
        """Frames decoded after the wall-clock time `unix_s` (0 if none, or no timeline)."""
        if self.t0_unix_ms is None or not self.frames_samples:
            return 0
        at = unix_s - self.t0_unix_ms / 1000
        before = max((frames for t, frames in self.frames_samples if t <= at), default=0)
        return self.frames_samples[-1][1] - before

    def summary(self) -> str:
        return (f"ok={self.ok}; {self.video_width}x{self.video_height}; first frame {self.first_frame_s} s; "
                f"signalling={[(s['step'], s['status']) for s in self.signalling]}; video={self.video}; "
                f"audio={self.audio}; pair={self.candidate_pair}; problems={self.problems}")  # fmt: skip


def webrtc_player(url: str, user: str | None, whep_token: str | None = None) -> list[str]:
    """The webrtc_play.mjs command line: the app's exchange as `user` (password in the environment), or
    WHEP with a Bearer token (the player's offer, as any standard WHEP player)."""
    who = ["--whep-token", whep_token] if whep_token else ["--user", user or ""]
    return ["node", str(HERE / "webrtc_play.mjs"), "--url", url, *who, "--chromium", chromium_path()]


def play_webrtc(
    url: str,
    user: str,
    password: str,
    *,
    seconds: float = 8,
    ice_servers: list[dict] | None = None,
    relay: bool = False,
    host_map: dict[str, str] | None = None,
    ignore_https_errors: bool = True,
    startup_timeout: float = 20,
    camera_clock: float | None = None,
    hangup: bool = True,
    viewers: int = 1,
    timeout: float | None = None,
    whep_token: str | None = None,
    client: str = "own",
) -> WebRTCResult:
    """Watch a camera over WebRTC in headless Chromium the way the app does (docs/app.md): POST the
    manifest's `webrtc` URL with the browser's offer (WHEP) and the app user's password, play the answer;
    `seconds` s from the first frame, then DELETE (unless hangup=False). ice_servers: the manifest's
    (TURN credentials); relay: every packet through TURN. The password reaches the script through its
    environment, never its argv. viewers: more PeerConnections of the same camera from the same page
    (benchmarks). whep_token: WHEP with that Bearer token instead (user and password unused).
    client="whip-whep": the WHEP reference client plays instead of camgate's own exchange (needs whep_token);
    client="eyevinn": Eyevinn's WebRTC player does (npm @eyevinn/webrtc-player, bundled in memory by esbuild;
    needs whep_token).
    Raises PlayerError when the harness itself fails."""
    reason = browser_unavailable_reason()
    if reason:
        raise PlayerError(reason)
    command = [*webrtc_player(url, user, whep_token), "--client", client, "--seconds", str(seconds), "--startup-timeout", str(startup_timeout)]
    if ice_servers:
        command += ["--ice-servers", json.dumps(ice_servers)]
    if relay:
        command.append("--relay")
    if not hangup:
        command.append("--no-hangup")
    if viewers > 1:
        command += ["--viewers", str(viewers)]
    for name, address in (host_map or {}).items():
        command += ["--host-map", f"{name}={address}"]
    if ignore_https_errors:
        command.append("--ignore-https-errors")
    if camera_clock is not None:
        command += ["--camera-clock", f"{camera_clock:.3f}"]
    limit = timeout if timeout is not None else startup_timeout + seconds + 60
    data, runtime = _run_player(command, limit, {"CAMGATE_APP_PASSWORD": password or ""})
    result = WebRTCResult.from_json(data)
    result.runtime_s = runtime
    return result
