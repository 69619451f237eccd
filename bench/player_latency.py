"""Glass-to-glass latency as a viewer sees it in hls.js (Debian's Chromium), per demo camera.

    make demo && python -m bench.player_latency [--seconds 30]

For each demo camera, hls.js plays the signed multivariant URL for --seconds. The simulated cameras
draw each frame's timestamp as a QR code and log the wall-clock time of timestamp 0 ("CLOCK" lines,
tests/testbed/fake_camera.py); the page reads the code from the frame being displayed, a few times a
second, so glass-to-glass is measured: displayed minus captured, on the one clock of this machine.
Beside it: how far behind the live edge hls.js plays (hls.js `latency`), and the playlist-tag figure
(now minus EXT-X-PROGRAM-DATE-TIME of the frame playing, which ffmpeg stamps when it writes the
segment, not when the camera captured). Percentiles over the second half of each run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from camgate.inventory import load_inventory
from camgate.remote import link_secret
from camgate.signing import signed_url
from tests.players.browser import browser_unavailable_reason, play_hls
from tests.testbed.cameras import camera_clock

STATE = Path(".testbed/state.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args()
    reason = browser_unavailable_reason()
    if reason:
        raise SystemExit(f"no browser player: {reason}")
    state = json.loads(STATE.read_text())
    (gateway, data), = load_inventory("inventory/testbed.py")
    secret = link_secret(gateway, data)
    host_map = {gateway.domain: state["target_address"]} if gateway.domain != state["target_address"] else None
    cameras = {cam["id"]: cam for cam in state["cameras"]}
    print(f"hls.js {args.seconds} s per camera; glass-to-glass from the picture's timestamp against the camera's clock")
    print(f"{'camera':8} {'hls_time':>8} {'glass-to-glass p50':>18} {'p90':>7} {'readings':>8} {'behind edge':>11} "
          f"{'PDT latency':>11} {'first frame':>11}")  # fmt: skip
    for camera in gateway.enabled_cameras:
        url, _ = signed_url(gateway, camera, secret, ttl=600)
        clock = camera_clock(cameras[camera.id])
        result = play_hls(url, seconds=args.seconds, host_map=host_map, startup_timeout=40, camera_clock=clock)
        g2g = result.glass_to_glass or {}
        cell = lambda value: f"{value:.2f} s" if value is not None else "-"  # noqa: E731
        print(f"{camera.id:8} {camera.hls_time:>6} s {cell(g2g.get('p50_s')):>18} {cell(g2g.get('p90_s')):>7} "
              f"{g2g.get('settled', 0):>8} {cell(result.edge_latency_s):>11} {cell(result.pdt_latency_s):>11} "
              f"{cell(result.first_frame_s):>11}  ok={result.ok}", flush=True)  # fmt: skip

if __name__ == "__main__":
    main()
