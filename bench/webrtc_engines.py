"""WebRTC engines side by side (issue 27): camgate-webrtc (GStreamer's webrtcbin, the chosen one),
aiortc (Debian's python3-aiortc, bench/engines/aiortc_whep.py) and Janus (Debian 12's janus 1.1.2 and
its Streaming plugin, bench/engines/janus_whep.py), fed the SAME camera in one run.

    .venv/bin/python -m bench.webrtc_engines [--viewers 20 50] [--window 20] [--plays 3]
                                             [--engines webrtcbin aiortc janus] (the default: all three)

No testbed: everything runs on this machine, on loopback (127.0.0.1) only; the engines under Debian's
/usr/bin/python3 (gi, aiortc), the browser is Debian's headless Chromium (tests/players).
Janus 1.1.2's Streaming plugin only makes offers: its WHEP shim (standard-library Python, signalling
only) answers the browser's POST with 406 and Janus's offer (WHEP's counter-offer), and the page
PATCHes its answer. Janus's own process is the one measured; the shim's CPU and PSS are printed apart.
Janus's ICE is on the machine's own IPv4 address (Janus never gathers on loopback; see the shim).
Where /usr/bin/janus is missing (Debian 13 has no janus package), Janus is skipped, with the reason.

The camera: one fake camera (tests/testbed/fake_camera.py, kind h264-aac: H.264 640x360, 25 fps,
~1000 kbit/s, a keyframe every second, the timestamp QR code drawn on each frame) and one ffmpeg that
copies its video to RTP H.264 (-bsf:v dump_extra, payload type 96) on one UDP port, as a camera
unit's WebRTC output does. That one stream feeds each engine in turn (one engine at a time binds
the port), so every engine gets the same packets from the same encoder.

Per engine:
1. no viewer: the engine's CPU (% of one core, utime+stime from /proc/PID/stat) over --window s and
   its PSS (/proc/PID/smaps_rollup): the cost of one camera received.
2. --plays single-viewer plays (WHEP in Chromium, 10 s each): first frame (s from the POST's answer,
   and from the page's start; Janus's POST answers with its offer, so its figure also holds the
   browser's answer and the PATCH), and glass-to-glass p50/p90 read from the QR code against the
   camera's clock (tests/players/clock.js).
3. per --viewers N: N PeerConnections of the camera from one page; once all connected (45 s at
   most), CPU and PSS over --window s; per viewer = (busy - no viewer) / connected; and whether every
   viewer decoded frames (the page's getStats at the end).
The browser's own decoding is not counted: it is not the gateway's. Every process started here runs
in its own process group, under a time limit, and is killed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from camgate.gateway import whep
from tests.players.browser import browser_unavailable_reason, play_webrtc
from tests.testbed.cameras import camera_clock
from tests.testbed.proc import free_ports, wait_until

ROOT = Path(__file__).resolve().parents[1]
HOST_PYTHON = "/usr/bin/python3"
FAKE_CAMERA = ROOT / "tests" / "testbed" / "fake_camera.py"
WEBRTCBIN = ROOT / "camgate" / "gateway" / "webrtc.py"
AIORTC = ROOT / "bench" / "engines" / "aiortc_whep.py"
JANUS = "/usr/bin/janus"
JANUS_SHIM = ROOT / "bench" / "engines" / "janus_whep.py"
CAMERA, USER, SECRET = "front", "bench", "bench-webrtc-engines"
MOUNT = "bench"  # the fake camera's RTSP path
ICE_PORTS = (42200, 42399)
JANUS_PORTS = (42400, 42599)  # Janus's ICE ports, apart from camgate-webrtc's (aiortc takes ephemeral ones)
ENGINES = ["webrtcbin", "aiortc", "janus"]
JOIN_S = 45  # at most this long for N viewers to connect
PROCESS_LIMIT_S = 3600  # no process of this bench outlives this (timeout(1)), whatever happens here


class Procs:
    """Every process started here: its own group, under timeout(1); all killed by stop()."""

    def __init__(self):
        self.started: list[subprocess.Popen] = []

    def start(self, argv: list[str], log: Path, **kw) -> subprocess.Popen:
        proc = subprocess.Popen(["timeout", "-s", "KILL", str(PROCESS_LIMIT_S), *argv], stdout=kw.pop("stdout", open(log, "w")),
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, **kw)  # fmt: skip
        self.started.append(proc)
        return proc

    @staticmethod
    def stop_one(proc: subprocess.Popen, grace: float = 5) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop(self) -> None:
        for proc in reversed(self.started):
            self.stop_one(proc)


def child_pid(parent: int) -> int:
    """The first child of `parent` (started by its main thread)."""
    assert wait_until(lambda: bool(Path(f"/proc/{parent}/task/{parent}/children").read_text().split()), timeout=10)
    return int(Path(f"/proc/{parent}/task/{parent}/children").read_text().split()[0])


def measured_pids(name: str, proc: subprocess.Popen) -> list[int]:
    """The engine's process (the one under timeout(1)); for Janus, janus itself (the shim's child) and the shim."""
    pid = child_pid(proc.pid)
    return [child_pid(pid), pid] if name == "janus" else [pid]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_shares(pids: list[int], seconds: float) -> list[float]:
    """Each process's CPU over the same `seconds`, in % of one core."""
    start, t0 = [cpu_seconds(pid) for pid in pids], time.monotonic()
    time.sleep(seconds)
    return [(cpu_seconds(pid) - s) / (time.monotonic() - t0) * 100 for pid, s in zip(pids, start)]


def shim(pids: list[int], shares: list[float]) -> tuple[dict, str]:
    """The Janus shim's CPU and PSS (signalling only, measured beside Janus): figures and words."""
    if len(pids) < 2:
        return {}, ""
    figures = {"shim_cpu": shares[1], "shim_pss": pss_mib(pids[1])}
    return figures, f" (its WHEP shim {figures['shim_cpu']:.2f} %, PSS {figures['shim_pss']:.1f} MiB)"


def http_status(port: int) -> dict | None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/status")
        return json.loads(conn.getresponse().read())
    except (OSError, ValueError):
        return None
    finally:
        conn.close()


class Camera:
    """The fake camera (RTSP on loopback) and ffmpeg copying its video to RTP on `rtp_port`."""

    def __init__(self, procs: Procs, tmp: Path):
        rtsp_port = free_ports(1)[0]
        self.rtp_port = free_ports(1, socket.SOCK_DGRAM)[0]
        self.log = tmp / "camera.log"
        procs.start([HOST_PYTHON, str(FAKE_CAMERA), "--address", "127.0.0.1", "--port", str(rtsp_port), "--mount", f"/{MOUNT}"], self.log)
        if not wait_until(lambda: "READY" in self.log.read_text(), timeout=30):
            raise SystemExit(f"the fake camera did not start: {self.log.read_text()[-2000:]}")
        procs.start(["ffmpeg", "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", f"rtsp://127.0.0.1:{rtsp_port}/{MOUNT}",
                     "-an", "-c:v", "copy", "-bsf:v", "dump_extra", "-f", "rtp", "-payload_type", "96",
                     f"rtp://127.0.0.1:{self.rtp_port}?pkt_size=1200"], tmp / "ffmpeg.log")  # fmt: skip
        if not wait_until(lambda: self.clock() is not None, timeout=30):
            raise SystemExit(f"no CLOCK line from the fake camera: {self.log.read_text()[-2000:]}")

    def clock(self) -> float | None:
        """Unix ms of the camera's running time 0 (its CLOCK line)."""
        return camera_clock({"url": f"rtsp://127.0.0.1/{MOUNT}", "log": str(self.log)})


def start_engine(name: str, procs: Procs, tmp: Path, camera: Camera) -> tuple[subprocess.Popen, int]:
    """The engine `name` on a free loopback port, once it receives the camera: (its process, its port)."""
    port, janus_port = free_ports(2)
    log = tmp / f"{name}.log"
    media_ready = lambda: None not in ((http_status(port) or {}).get("media_age_ms") or {None: None}).values()  # noqa: E731
    if name == "webrtcbin":
        config = {"listen": ["127.0.0.1", port], "max_viewers": 500, "max_viewers_per_user": 500, "viewer_timeout": 8, "media_timeout": 5,
                  "ice_ports": list(ICE_PORTS), "ice_urls": [], "cameras": {CAMERA: {"video_port": camera.rtp_port, "audio": None}},
                  "users": {USER: [CAMERA]}}  # fmt: skip
        (tmp / "webrtc.json").write_text(json.dumps(config))
        proc = procs.start([HOST_PYTHON, str(WEBRTCBIN), str(tmp / "webrtc.json")], log, cwd=tmp,
                           env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "CAMGATE_TURN_SECRET": SECRET})  # fmt: skip
        ready = media_ready
    elif name == "aiortc":
        if subprocess.run([HOST_PYTHON, "-c", "import aiortc"], capture_output=True).returncode != 0:
            raise SystemExit(f"the aiortc engine needs aiortc for {HOST_PYTHON}: apt-get install python3-aiortc")
        proc = procs.start([HOST_PYTHON, str(AIORTC), "--port", str(port), "--rtp-port", str(camera.rtp_port), "--camera", CAMERA], log,
                           cwd=tmp, env={"PATH": os.environ["PATH"]})  # fmt: skip
        ready = lambda: http_status(port) is not None  # noqa: E731
    elif name == "janus":
        proc = procs.start([HOST_PYTHON, str(JANUS_SHIM), "--port", str(port), "--janus-port", str(janus_port), "--rtp-port", str(camera.rtp_port),
                            "--ice-ports", "-".join(map(str, JANUS_PORTS)), "--dir", str(tmp / "janus"), "--camera", CAMERA], log,
                           cwd=tmp, env={"PATH": os.environ["PATH"]})  # fmt: skip
        ready = media_ready
    else:
        raise SystemExit(f"unknown engine {name}")
    if not wait_until(lambda: proc.poll() is None and ready(), timeout=60):
        raise SystemExit(f"{name} did not start: {log.read_text()[-2000:]}")
    return proc, port


def url(port: int) -> str:
    return f"http://127.0.0.1:{port}/api/webrtc/{CAMERA}"


def token() -> str:
    return whep.sign_token(SECRET, USER, int(time.time()) + 3600)


def first_frame(result) -> float | None:
    """Seconds from the POST's answer to the first frame shown."""
    post = next((s["at_s"] for s in result.signalling if s["step"] == "POST"), None)
    return None if result.first_frame_s is None or post is None else round(result.first_frame_s - post, 3)


def measure(name: str, procs: Procs, tmp: Path, camera: Camera, args) -> dict:
    proc, port = start_engine(name, procs, tmp, camera)
    pids = measured_pids(name, proc)
    out: dict = {"engine": name, "runs": {}}
    try:
        time.sleep(3)
        shares = cpu_shares(pids, args.window)
        out["idle_cpu"], out["idle_pss"] = shares[0], pss_mib(pids[0])
        figures, words = shim(pids, shares)
        out.update(figures)
        print(f"  {name}: no viewer {out['idle_cpu']:.2f} % of a core, PSS {out['idle_pss']:.1f} MiB{words}", flush=True)
        plays = []
        for _ in range(args.plays):
            result = play_webrtc(url(port), None, None, whep_token=token(), seconds=10, startup_timeout=20, camera_clock=camera.clock())
            g2g = result.glass_to_glass or {}
            plays.append({"ok": result.ok, "first_frame": first_frame(result), "page_first_frame": result.first_frame_s,
                          "p50": g2g.get("p50_s"), "p90": g2g.get("p90_s"), "readings": g2g.get("settled"), "problems": result.problems})  # fmt: skip
            print(f"  {name}: play ok={result.ok} first frame {plays[-1]['first_frame']} s after the answer "
                  f"({result.first_frame_s} s from the page's start); glass-to-glass p50 {g2g.get('p50_s')} p90 {g2g.get('p90_s')} s "
                  f"({g2g.get('settled')} readings) {result.problems or ''}", flush=True)  # fmt: skip
            wait_until(lambda: (http_status(port) or {}).get("viewers") == 0, timeout=30)
        out["plays"] = plays
        for count in args.viewers:
            out["runs"][count] = many(name, port, pids, count, out["idle_cpu"], out["idle_pss"], args.window)
            if not wait_until(lambda: (http_status(port) or {}).get("viewers") == 0, timeout=40):
                print(f"  {name}: viewers left 40 s after the page closed: {http_status(port)}", flush=True)
    finally:
        procs.stop_one(proc)
    return out


def many(name: str, port: int, pids: list[int], count: int, idle: float, idle_pss: float, window: float) -> dict:
    """`count` viewers of the camera from one page: the engine's CPU and PSS while all play."""
    measured: dict = {}
    seconds = JOIN_S + window + 5

    def watch():
        try:
            measured["result"] = play_webrtc(url(port), None, None, whep_token=token(), seconds=seconds, viewers=count, startup_timeout=30,
                                             timeout=seconds + 240)  # fmt: skip
        except Exception as error:  # the harness failed: said below
            measured["error"] = repr(error)

    thread = threading.Thread(target=watch)
    thread.start()
    deadline = time.monotonic() + JOIN_S
    while ((http_status(port) or {}).get("connected", 0) < count) and time.monotonic() < deadline and thread.is_alive():
        time.sleep(1)
    joined_s = round(JOIN_S - (deadline - time.monotonic()), 1)
    time.sleep(2)
    status = http_status(port)  # None: the engine did not answer /status within 10 s
    connected = (status or {}).get("connected", 0)
    shares = cpu_shares(pids, window)
    busy, pss = shares[0], pss_mib(pids[0])
    shim_figures, shim_words = shim(pids, shares)
    thread.join()
    result = measured.get("result")
    frames = (result.viewers or {}).get("frames", []) if result else []
    run = {"connected": connected, "status_answered": status is not None, "joined_s": joined_s, "cpu": busy, "pss": pss,
           "cpu_per_viewer": (busy - idle) / connected if connected else float("nan"),
           "pss_per_viewer": (pss - idle_pss) / connected if connected else float("nan"),
           "browser_connected": (result.viewers or {}).get("connected") if result else None,
           "decoding": sum(f > 0 for f in frames), "min_frames": min(frames, default=0),
           "refused": (result.viewers or {}).get("refused") if result else None, "error": measured.get("error"), **shim_figures}  # fmt: skip
    print(f"  {name}: {count} viewers: {connected} connected (after {joined_s} s{'' if status else '; /status unanswered'}), {busy:.2f} % of a core, PSS {pss:.1f} MiB{shim_words}; "
          f"per viewer {run['cpu_per_viewer']:.2f} % and {run['pss_per_viewer']:.2f} MiB; "
          f"{run['decoding']}/{len(frames)} viewers decoded frames (fewest {run['min_frames']}); refused {run['refused']} "
          f"{run['error'] or ''}", flush=True)  # fmt: skip
    return run


def median(values):
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 3) if values else None


def table(results: list[dict], viewers: list[int]) -> None:
    head = ["engine", "ff s", "ff page s", "g2g p50", "g2g p90", "no viewer %", "PSS MiB"]
    for n in viewers:
        head += [f"{n}: ok", f"{n}: %/viewer", f"{n}: MiB/viewer"]
    rows = [head]
    for r in results:
        plays = r.get("plays", [])
        row = [r["engine"], median(p["first_frame"] for p in plays), median(p["page_first_frame"] for p in plays),
               median(p["p50"] for p in plays), median(p["p90"] for p in plays),
               f"{r['idle_cpu']:.2f}", f"{r['idle_pss']:.1f}"]  # fmt: skip
        for n in viewers:
            run = r["runs"].get(n)
            row += [f"{run['decoding'] if run['browser_connected'] is not None else '?'}/{n}", f"{run['cpu_per_viewer']:.2f}", f"{run['pss_per_viewer']:.2f}"] if run else ["-"] * 3
        rows.append([str(c) for c in row])
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    print()
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
    print("ff: first frame after the POST's answer (Janus: after its offer, so with the browser's answer and PATCH); ff page: "
          "from the page's start, offer and exchange included (the fair comparison); medians of the plays; g2g: glass-to-glass (s, medians of the plays' "
          "p50 and p90); %: of one core; n: ok = viewers that decoded frames (?: the browser gave no result); per viewer: "
          "(busy - no viewer) / viewers connected")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, nargs="+", default=[20, 50], help="viewer counts, one after the other")
    parser.add_argument("--window", type=float, default=20, help="seconds the engine's CPU is measured over")
    parser.add_argument("--plays", type=int, default=3, help="single-viewer plays per engine (first frame, glass-to-glass)")
    parser.add_argument("--engines", nargs="+", default=ENGINES, choices=ENGINES, help="janus is skipped where /usr/bin/janus is missing")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--logs", help="keep the camera's, ffmpeg's and the engines' logs in this directory (default: removed)")
    args = parser.parse_args()
    reason = browser_unavailable_reason()
    if reason:
        raise SystemExit(f"no browser player: {reason}")
    if "janus" in args.engines and not Path(JANUS).exists():
        print(f"janus: skipped, no {JANUS} (Debian 12's janus package; Debian 13 has none)", flush=True)
        args.engines = [e for e in args.engines if e != "janus"]
    procs = Procs()
    results = []
    try:
        with contextlib.ExitStack() as stack:
            tmp = Path(args.logs) if args.logs else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="camgate-bench-engines-")))
            tmp.mkdir(parents=True, exist_ok=True)
            camera = Camera(procs, tmp)
            print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs; one camera (H.264 640x360 25 fps, "
                  f"1 s GOP) as RTP on 127.0.0.1:{camera.rtp_port}; CPU over {args.window:.0f} s windows", flush=True)  # fmt: skip
            for engine in args.engines:
                results.append(measure(engine, procs, tmp, camera, args))
    finally:
        procs.stop()
    table(results, args.viewers)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
