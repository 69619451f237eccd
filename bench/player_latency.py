"""Live latency as a viewer sees it in hls.js (Debian's Chromium), beside the server-side figure.

    make demo && python -m bench.player_latency [--seconds 30]

For each demo camera, hls.js plays the signed multivariant URL for --seconds and reports how far
behind the live edge it plays (hls.js `latency`: the playlist's live edge, extrapolated by the
playlist's age, minus currentTime). ffmpeg's EXT-X-PROGRAM-DATE-TIME is stamped when ffmpeg writes,
not when the camera captured, so it says nothing about glass-to-glass; the glass-to-glass figure is
therefore the player's distance behind the edge plus the server-side time from a keyframe leaving
the camera to its segment being listed (bench/latency.py measures that: p50 1.07 s at hls_time 1,
2.06 s at hls_time 2 on this machine kind).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from camgate.inventory import load_inventory
from camgate.remote import link_secret
from camgate.signing import signed_url
from tests.players.browser import browser_unavailable_reason, play_hls

STATE = Path(".testbed/state.json")
# Server-side keyframe-to-listed p50 per hls_time (bench/latency.py, docs/performance.md).
SERVER_SIDE_P50 = {1: 1.07, 2: 2.06}


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
    print(f"hls.js {args.seconds} s per camera; glass-to-glass = behind the live edge + server-side listing time")
    print(f"{'camera':8} {'hls_time':>8} {'segment':>8} {'behind edge p50':>16} {'server-side p50':>16} {'glass-to-glass':>15} {'first frame':>12}")
    for camera in gateway.enabled_cameras:
        url, _ = signed_url(gateway, camera, secret, ttl=600)
        result = play_hls(url, seconds=args.seconds, host_map=host_map, startup_timeout=40)
        behind = result.edge_latency_s if result.edge_latency_s is not None else float("nan")  # median, 2nd half
        server = SERVER_SIDE_P50.get(camera.hls_time, float(camera.hls_time))
        first = f"{result.first_frame_s:.1f} s" if result.first_frame_s is not None else "-"
        print(f"{camera.id:8} {camera.hls_time:>7} s {camera.hls_time:>7} s {behind:>15.2f}s {server:>15.2f}s "
              f"{behind + server:>14.2f}s {first:>12}  ok={result.ok}")  # fmt: skip
        time.sleep(1)


if __name__ == "__main__":
    main()
