"""Vanishing viewers, soaked: N browsers join one camera over WebRTC and are killed (SIGKILL, no
DELETE) one after the other, within a time budget; at the end no viewer may be left, and
camgate-webrtc's memory is compared with where it started.

    make demo && python -m bench.webrtc_soak [--viewers 100] [--minutes 10]

Each viewer is Debian's Chromium (tests/players/webrtc_play.mjs --vanish), killed once it shows a
picture; up to --parallel of them at once. The demo is redeployed first with room for that many
viewers per user (CAMGATE_TESTBED_WEBRTC_PER_USER). Bounded: it stops starting viewers when the
budget is spent, and reports how many it managed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bench.webrtc import STATE, engine_usage, ssh
from camgate import paths
from camgate.inventory import load_inventory
from tests.players.browser import HERE, browser_unavailable_reason, webrtc_player


def vanish(url: str, user: str, password: str, host_map: dict) -> bool:
    """One browser plays `url` and is killed once it shows a picture; whether it played."""
    command = [*webrtc_player(url, user), "--vanish", "--startup-timeout", "30", "--ignore-https-errors"]
    for name, address in host_map.items():
        command += ["--host-map", f"{name}={address}"]
    player = subprocess.Popen(command, cwd=HERE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "CAMGATE_APP_PASSWORD": password}, start_new_session=True)  # fmt: skip
    playing = threading.Event()
    threading.Thread(target=lambda: [playing.set() for line in player.stderr if line.strip() == "playing"], daemon=True).start()
    played = playing.wait(60)
    os.killpg(player.pid, signal.SIGKILL)
    player.wait(30)
    return played


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--parallel", type=int, default=2, help="browsers at once")
    args = parser.parse_args()
    reason = browser_unavailable_reason()
    if reason:
        raise SystemExit(f"no browser player: {reason}")
    env = {**os.environ, "CAMGATE_TESTBED_WEBRTC_PER_USER": str(max(16, args.viewers))}
    subprocess.run([sys.executable, "-m", "pyinfra", "-y", "inventory/testbed.py", "deploy.py"], env=env, check=True,
                   capture_output=True, timeout=900)  # fmt: skip
    state = json.loads(STATE.read_text())
    os.environ.update(env)
    (gateway, _), = load_inventory("inventory/testbed.py")
    host_map = {gateway.domain: state["target_address"]} if gateway.domain != state["target_address"] else {}
    camera = gateway.webrtc_cameras[0]
    user = next(u for u in gateway.app_users if camera in gateway.cameras_of(u))
    password = state["app_users"][user.name]["password"]
    url = f"{gateway.base_url}{paths.WEBRTC_PUBLIC_PATH}/{camera.id}"
    status = lambda: json.loads(ssh(state, f"curl -s http://127.0.0.1:{paths.WEBRTC_PORT}/status"))  # noqa: E731

    _, memory_start = engine_usage(state)
    deadline = time.monotonic() + args.minutes * 60
    played = started = 0
    most = 0
    with ThreadPoolExecutor(args.parallel) as pool:
        pending = []
        while started < args.viewers and time.monotonic() < deadline:
            for finished in [f for f in pending if f.done()]:
                played += finished.result()
                pending.remove(finished)
            if len(pending) < args.parallel:
                pending.append(pool.submit(vanish, url, user.name, password, host_map))
                started += 1
            most = max(most, status()["viewers"])
            time.sleep(0.5)
        for future in pending:
            played += future.result()
    ended_at = time.monotonic()
    while status()["viewers"] and time.monotonic() - ended_at < 60:
        time.sleep(1)
    left = status()["viewers"]
    _, memory_end = engine_usage(state)
    print(f"{started} viewers started in {(ended_at - (deadline - args.minutes * 60)) / 60:.1f} min, {played} played, "
          f"all killed (SIGKILL); at most {most} open at once")  # fmt: skip
    print(f"viewers left {time.monotonic() - ended_at:.0f} s after the last kill: {left}")
    print(f"camgate-webrtc PSS: {memory_start / 2**20:.1f} MiB at the start, {memory_end / 2**20:.1f} MiB at the end "
          f"({(memory_end - memory_start) / memory_start * 100:+.1f} %)")  # fmt: skip


if __name__ == "__main__":
    main()
