"""Cameras per gateway and deploy time: N camera units pulling one shared simulated source.

For each N: a fresh testbed host (its own, index 3, state in .testbed-bench), a timed first deploy
on the bare host, a timed no-op re-deploy at once (the cameras it started may still be starting) and
another once every camera is up (bounded), then CPU % of a core and proportional memory (PSS) per
camera unit over a fixed window, and how many cameras' segments arrive late. Bounded: one pass per
N, MEASURE seconds each. Prints a table; nothing is kept.

    python -m bench.cameras [--counts 1,8,16,32,64] [--audio copy|aac] [--seconds 20] [--snapshot on|off]
                            [--sub off|on] [--webrtc off|main]

With --sub on each camera also has a sub stream (its own unit, reading the same source again: the
upper bound of a real, smaller sub profile); CPU and PSS per camera then add up both units. With
--webrtc main each camera's unit also sends RTP to camgate-webrtc (video copied, its AAC as Opus): the
units' cost, not the service's (bench.webrtc has that).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from camgate.paths import SUB_STREAM_SUFFIX, camera_of_unit
from tests.testbed import Testbed

STATE_DIR = Path(".testbed-bench").resolve()
INDEX = 3
CGROUPS = "/sys/fs/cgroup/system.slice"
SETTLE_WITHIN = 120  # seconds the cameras get to be up before the settled no-op deploy

SAMPLE = r"""
for d in {cg}/camgate-camera-*.service; do
  u=$(basename "$d")
  cpu=$(sed -n 's/^usage_usec //p' "$d/cpu.stat")
  pss=0
  for p in $(cat "$d/cgroup.procs"); do
    v=$(sed -n 's/^Pss: *\([0-9]*\) kB/\1/p' /proc/$p/smaps_rollup 2>/dev/null); pss=$((pss + ${{v:-0}}))
  done
  echo "$u $cpu $pss"
done
"""


def deploy(env: dict) -> tuple[float, str]:
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pyinfra", "-y", "inventory/testbed.py", "deploy.py"],
        env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"deploy failed:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}")
    return time.monotonic() - start, result.stdout


def sample(ssh: list[str]) -> dict[str, tuple[int, int]]:
    out = subprocess.run([*ssh, SAMPLE.format(cg=CGROUPS)], capture_output=True, text=True, check=True).stdout
    # A unit between two runs of ffmpeg may have no CPU figure: it is left out of that sample.
    rows = (line.split() for line in out.splitlines())
    return {row[0]: (int(row[1]), int(row[2])) for row in rows if len(row) == 3}


def late_cameras(ssh: list[str]) -> int:
    report = json.loads(subprocess.run([*ssh, "python3 /usr/local/lib/camgate/camgate-health /etc/camgate/health.json"],
                                       capture_output=True, text=True, check=True).stdout)  # fmt: skip
    return sum(1 for cam in report["cameras"].values() if not cam["up"] or ("sub" in cam and not cam["sub"].get("up")))


def restarts(ssh: list[str]) -> int:
    """Automatic restarts of all camera units so far: cameras that fell over under the load."""
    out = subprocess.run([*ssh, "systemctl show -p NRestarts --value 'camgate-camera-*'"], capture_output=True, text=True).stdout
    return sum(int(n) for n in out.split() if n.isdigit())


def per_camera(sample: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """Unit figures added up per camera: a camera's sub stream unit counts toward its camera."""
    cameras: dict[str, tuple[int, int]] = {}
    for unit, (cpu, pss) in sample.items():
        camera = camera_of_unit(unit).removesuffix(SUB_STREAM_SUFFIX)
        total = cameras.get(camera, (0, 0))
        cameras[camera] = (total[0] + cpu, total[1] + pss)
    return cameras


def run(count: int, audio: str, seconds: float, snapshot: str = "on", sub: str = "off", webrtc: str = "off") -> dict:
    bed = Testbed(STATE_DIR, INDEX, cameras=1, auth_cameras=())
    state = bed.up()
    try:
        env = {**os.environ, "CAMGATE_TESTBED_DIR": str(STATE_DIR), "CAMGATE_TESTBED_CAMERAS": "none",
               "CAMGATE_TESTBED_CLONES": str(count), "CAMGATE_TESTBED_CLONE_AUDIO": audio,
               "CAMGATE_TESTBED_CLONE_SNAPSHOT": snapshot, "CAMGATE_TESTBED_CLONE_SUB": sub,
               "CAMGATE_TESTBED_CLONE_WEBRTC": webrtc}  # fmt: skip
        first, _ = deploy(env)
        noop, out = deploy(env)  # at once, as the cameras the first deploy started are still starting
        ssh = ["ssh", "-F", state["ssh_config"], state["ssh_alias"]]
        deadline = time.monotonic() + SETTLE_WITHIN
        while late_cameras(ssh) and time.monotonic() < deadline:  # every camera connected and segmenting
            time.sleep(2)
        settled, _ = deploy(env)  # the same on a site whose cameras all run, as an operator's re-run finds it
        before, start = per_camera(sample(ssh)), time.monotonic()
        time.sleep(seconds)
        after, elapsed = per_camera(sample(ssh)), time.monotonic() - start
        cpu = [(after[u][0] - before[u][0]) / 1e6 / elapsed * 100 for u in after if u in before and after[u][0] >= before[u][0]]
        pss = [after[u][1] / 1024 for u in after]
        return {
            "count": count, "first": first, "noop": noop, "settled": settled, "noop_changes": "Grand total" in out and out.split("Grand total")[1].split()[1],
            "cpu_per_camera": sum(cpu) / len(cpu), "cpu_total": sum(cpu), "pss_per_camera": sum(pss) / len(pss),
            "late": late_cameras(ssh),
            "restarts": restarts(ssh),
        }  # fmt: skip
    finally:
        bed.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1,8,16,32,64")
    parser.add_argument("--audio", default="copy", choices=("copy", "aac"))
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--snapshot", default="on", choices=("on", "off"), help="the units' JPEG snapshot")
    parser.add_argument("--sub", default="off", choices=("off", "on"), help="a sub stream per camera")
    parser.add_argument("--webrtc", default="off", choices=("off", "main"), help="each camera also feeds camgate-webrtc")
    args = parser.parse_args()
    print(f"audio {args.audio}, snapshot {args.snapshot}, sub stream {args.sub}, webrtc {args.webrtc}, {args.seconds:.0f} s CPU window, "
          f"{os.cpu_count()} cores")
    print(f"{'cameras':>7} {'first deploy s':>14} {'no-op s':>8} {'settled s':>9} {'no-op changes':>13} {'CPU %/camera':>12} "
          f"{'CPU % total':>11} {'PSS MB/camera':>13} {'late':>5} {'restarts':>8}")  # fmt: skip
    for count in (int(n) for n in args.counts.split(",")):
        r = run(count, args.audio, args.seconds, args.snapshot, args.sub, args.webrtc)
        print(f"{r['count']:7} {r['first']:14.1f} {r['noop']:8.1f} {r['settled']:9.1f} {r['noop_changes']:>13} {r['cpu_per_camera']:12.2f} "
              f"{r['cpu_total']:11.1f} {r['pss_per_camera']:13.1f} {r['late']:5} {r['restarts']:8}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
