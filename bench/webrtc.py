"""WebRTC beside HLS: glass-to-glass latency of the same camera in one run, and what camgate-webrtc
(GStreamer's webrtcbin) costs per camera and per viewer.

    make demo && python -m bench.webrtc [--seconds 20] [--viewers 20 50] [--window 20]

1. Latency: the demo's first camera (hls_time 1, webrtc on) plays in hls.js and over WebRTC, one after
   the other, in Debian's Chromium; both read each displayed frame's timestamp QR code against the
   camera's clock (tests/players/clock.js), so both figures are glass-to-glass on one clock.
2. Cost: camgate-webrtc's CPU time (/proc of its process) over --window seconds with no viewer (the RTP
   of every WebRTC camera coming in: per camera), then with each --viewers count of viewers of one camera, all
   from one browser page, each its own PeerConnection (per viewer). Memory: the service's PSS. The browser's own decoding is not counted: it runs on this machine, not the gateway.
The demo is redeployed first with room for that many viewers per user (CAMGATE_TESTBED_WEBRTC_PER_USER).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from camgate import paths
from camgate.inventory import load_inventory
from camgate.remote import link_secret
from camgate.signing import signed_url
from tests.players.browser import browser_unavailable_reason, play_hls, play_webrtc
from tests.testbed.cameras import camera_clock

STATE = Path(".testbed/state.json")


def ssh(state: dict, command: str) -> str:
    return subprocess.run(["ssh", "-F", state["ssh_config"], state["ssh_alias"], command], capture_output=True, text=True, timeout=60, check=True).stdout


def engine_usage(state: dict) -> tuple[float, int]:
    """(CPU seconds camgate-webrtc used so far, its PSS in bytes now), from /proc of its main process (the
    testbed's systemd has no CPU accounting for the unit)."""
    out = ssh(state, f"pid=$(systemctl show -p MainPID --value {paths.WEBRTC_SERVICE}); "
                     "cut -d' ' -f14,15 /proc/$pid/stat; getconf CLK_TCK; awk '/^Pss:/ {print $2}' /proc/$pid/smaps_rollup").split()  # fmt: skip
    utime, stime, ticks, pss_kb = (int(v) for v in out)
    return (utime + stime) / ticks, pss_kb * 1024


def cpu_share(state: dict, seconds: float) -> float:
    """camgate-webrtc's CPU over `seconds`, in % of one core."""
    start, t0 = engine_usage(state)[0], time.monotonic()
    time.sleep(seconds)
    return (engine_usage(state)[0] - start) / (time.monotonic() - t0) * 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20, help="playback per player for the latency figures")
    parser.add_argument("--viewers", type=int, nargs="+", default=[20, 50], help="viewer counts to measure, one after the other")
    parser.add_argument("--window", type=int, default=20, help="seconds the service's CPU is measured over")
    args = parser.parse_args()
    reason = browser_unavailable_reason()
    if reason:
        raise SystemExit(f"no browser player: {reason}")
    env = {**os.environ, "CAMGATE_TESTBED_WEBRTC_PER_USER": str(max(16, *args.viewers))}
    subprocess.run([sys.executable, "-m", "pyinfra", "-y", "inventory/testbed.py", "deploy.py"], env=env, check=True,
                   capture_output=True, timeout=900)  # fmt: skip
    state = json.loads(STATE.read_text())
    os.environ.update(env)
    (gateway, data), = load_inventory("inventory/testbed.py")
    secret = link_secret(gateway, data)
    host_map = {gateway.domain: state["target_address"]} if gateway.domain != state["target_address"] else None
    camera = gateway.webrtc_cameras[0]
    entry = next(c for c in state["cameras"] if c["id"] == camera.id)
    user = next(u for u in gateway.app_users if camera in gateway.cameras_of(u))
    password = state["app_users"][user.name]["password"]
    webrtc_url = f"{gateway.base_url}{paths.WEBRTC_PUBLIC_PATH}/{camera.id}"

    print(f"1. glass-to-glass, camera {camera.id} (hls_time {camera.hls_time} s), {args.seconds} s each, percentiles over the settled part")
    hls_url, _ = signed_url(gateway, camera, secret, ttl=600)
    hls = play_hls(hls_url, seconds=args.seconds, host_map=host_map, startup_timeout=40, camera_clock=camera_clock(entry))
    live = play_webrtc(webrtc_url, user.name, password, seconds=args.seconds, host_map=host_map, camera_clock=camera_clock(entry))
    for name, result in (("HLS (hls.js)", hls), ("WebRTC", live)):
        g2g = result.glass_to_glass or {}
        print(f"   {name:13} p50 {g2g.get('p50_s')} s  p90 {g2g.get('p90_s')} s  ({g2g.get('settled')} readings)  "
              f"first frame {result.first_frame_s} s  ok={result.ok}", flush=True)  # fmt: skip

    print(f"2. camgate-webrtc CPU ({args.window} s windows), {len(gateway.webrtc_cameras)} WebRTC cameras feeding it")
    idle = cpu_share(state, args.window)
    memory_idle = engine_usage(state)[1]
    print(f"   no viewer: {idle:.2f} % of a core ({idle / len(gateway.webrtc_cameras):.2f} % per camera), {memory_idle / 2**20:.1f} MiB", flush=True)
    status = lambda: json.loads(ssh(state, f"curl -s http://127.0.0.1:{paths.WEBRTC_PORT}/status"))  # noqa: E731
    for count in args.viewers:
        measure_viewers(state, status, count, args.window, idle, memory_idle,
                        lambda seconds, n: play_webrtc(webrtc_url, user.name, password, seconds=seconds, host_map=host_map, viewers=n,
                                                       startup_timeout=30, timeout=seconds + 240))  # fmt: skip


def measure_viewers(state: dict, status, count: int, window: int, idle: float, memory_idle: int, watch) -> None:
    """`count` viewers of one camera from one browser page: the service's CPU and PSS while all play."""
    measured: dict = {}
    # Long enough for every viewer to connect (120 s at most), the measuring window and the hang-up.
    seconds = 120 + window + 30
    thread = threading.Thread(target=lambda: measured.update(result=watch(seconds, count)))
    thread.start()
    deadline = time.monotonic() + 120
    while status()["connected"] < count and time.monotonic() < deadline and thread.is_alive():
        time.sleep(1)
    connected = status()["connected"]
    if not connected:
        raise SystemExit("no viewer connected: see the browser's result below")
    busy = cpu_share(state, window)
    memory_busy = engine_usage(state)[1]
    thread.join()
    result = measured.get("result")
    per_viewer = (busy - idle) / max(connected, 1)
    print(f"   {connected} viewers: {busy:.2f} % of a core, {memory_busy / 2**20:.1f} MiB; "
          f"per viewer {per_viewer:.2f} % and {(memory_busy - memory_idle) / 2**20 / max(connected, 1):.2f} MiB"
          + (f"; about {100 / per_viewer:.0f} viewers per core" if per_viewer > 0 else ""), flush=True)  # fmt: skip
    if result and result.viewers:
        frames = result.viewers["frames"]
        print(f"   every viewer decoded frames: {all(f > 0 for f in frames)} (min {min(frames)}, max {max(frames)}); "
              f"refused: {result.viewers['refused']}")  # fmt: skip
    while status()["viewers"] and time.monotonic() < deadline + seconds:
        time.sleep(1)


if __name__ == "__main__":
    main()
