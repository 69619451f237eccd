"""The live latency `camgate camera tune` buys: hls.js glass-to-glass on one camera whose keyframes come
every 4 s (a common factory setting), then again after `camgate camera tune CAMERA --keyframe 1s`.

    make demo && python -m bench.tune_latency [--camera cam3] [--seconds 40]

The camera's ONVIF face is the testbed's simulator (tests/testbed/onvif_device.py) with the camera's
own account, and the fake camera follows the GOP length set over ONVIF (fake_camera.py
--encoder-settings), so the change goes the way it goes on a site: ONVIF, the camera restarts its
encoder, the gateway reconnects, its segments follow the keyframes. Glass-to-glass is read from the
QR timestamp in the picture (see bench/player_latency.py). The camera is put back as it was at the end.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from camgate.inventory import load_inventory
from camgate.remote import link_secret
from camgate.signing import signed_url
from tests.players.browser import browser_unavailable_reason, play_hls
from tests.testbed import Testbed
from tests.testbed.cameras import camera_clock, onvif_state_file, start_onvif_device
from tests.testbed.inventory import read_state, testbed_dirs
from tests.testbed.proc import free_ports, terminate

INVENTORY = "inventory/testbed.py"
FACTORY_GOP = 100  # frames: a keyframe every 4 s at the fake camera's 25 fps


def playing_camera(bed: Testbed, camera_id: str) -> dict:
    return next(c for c in bed.read_state()["cameras"] if c["id"] == camera_id)


def glass_to_glass(camera_id: str, seconds: int, bed: Testbed) -> dict:
    (gateway, data), = load_inventory(INVENTORY)
    camera = next(c for c in gateway.cameras if c.id == camera_id)
    state = bed.read_state()
    host_map = {gateway.domain: state["target_address"]} if gateway.domain != state["target_address"] else None
    url, _ = signed_url(gateway, camera, link_secret(gateway, data), ttl=600)
    clock = camera_clock(playing_camera(bed, camera_id))
    result = play_hls(url, seconds=seconds, host_map=host_map, startup_timeout=60, camera_clock=clock)
    return {"ok": result.ok, **(result.glass_to_glass or {}), "first_frame_s": result.first_frame_s, "edge_s": result.edge_latency_s}


def wait_for_gop(bed: Testbed, camera_id: str, frames: int, bound: float = 90) -> None:
    """Until the camera has restarted its encoder with `frames` (its log's ENCODER line) or it started with it."""
    deadline = time.monotonic() + bound
    log = Path(playing_camera(bed, camera_id)["log"])
    while f"ENCODER /{camera_id} {frames}" not in log.read_text() and f"/{camera_id} {frames}" not in log.read_text():
        if time.monotonic() > deadline:
            raise SystemExit(f"{camera_id} did not take GOP {frames} within {bound:.0f} s; see {log}")
        time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--camera", default="cam3", help="a testbed camera with a password (the demo's cam3)")
    parser.add_argument("--seconds", type=int, default=40, help="hls.js playback per measurement")
    args = parser.parse_args()
    reason = browser_unavailable_reason()
    if reason:
        raise SystemExit(f"no browser player: {reason}")
    state_dir = testbed_dirs()[0]
    state = read_state(state_dir)
    bed = Testbed(state_dir, state["index"])
    camera = playing_camera(bed, args.camera)
    if not camera.get("password"):
        raise SystemExit(f"{args.camera} has no password: pick a camera with one (ONVIF needs an account)")
    run_dir = Path(tempfile.mkdtemp(prefix="tune-bench-"))
    port = free_ports(1)[0]
    address = f"{state['host_address']}:{port}"
    device = start_onvif_device(run_dir, state["host_address"], port, "media1",
                                [f"main={camera['url']},H264,640x360,25,{FACTORY_GOP}"], camera["username"], camera["password"])  # fmt: skip
    rows = []
    try:
        bed.start_camera(args.camera, encoder_settings=onvif_state_file(run_dir, port))
        wait_for_gop(bed, args.camera, FACTORY_GOP)
        time.sleep(15)  # the gateway reconnects and lists a few 4 s segments before the player starts
        rows.append(("keyframe every 4 s", glass_to_glass(args.camera, args.seconds, bed)))
        started = time.monotonic()
        tuned = subprocess.run([sys.executable, "-m", "camgate.cli", "camera", "tune", INVENTORY, args.camera, "--onvif", address,
                                "--keyframe", "1s"], capture_output=True, text=True, timeout=600)  # fmt: skip
        print(tuned.stdout.strip())
        if tuned.returncode != 0:
            raise SystemExit(f"camgate camera tune failed: {tuned.stderr.strip()}")
        print(f"camgate camera tune (ONVIF set, then measured from the gateway): {time.monotonic() - started:.1f} s")
        time.sleep(15)  # as before the first measurement
        rows.append(("after tune --keyframe 1s", glass_to_glass(args.camera, args.seconds, bed)))
    finally:
        terminate(device.pid, grace=5)
        device.wait()
        bed.start_camera(args.camera)
    print(f"\nhls.js, {args.seconds} s per measurement, camera {args.camera}; glass-to-glass from the picture's timestamp")
    print(f"{'':26} {'p50':>7} {'p90':>7} {'readings':>8} {'behind edge':>11} {'first frame':>11}")
    cell = lambda value: f"{value:.2f} s" if value is not None else "-"  # noqa: E731
    for label, r in rows:
        print(f"{label:26} {cell(r.get('p50_s')):>7} {cell(r.get('p90_s')):>7} {r.get('settled', 0):>8} "
              f"{cell(r.get('edge_s')):>11} {cell(r.get('first_frame_s')):>11}  ok={r['ok']}")  # fmt: skip


if __name__ == "__main__":
    main()
