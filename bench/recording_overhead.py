"""Recording overhead: CPU and write rate of one camera's ffmpeg, live only vs live + recording.

Runs the exact argv the camera units use (camgate.ffmpeg.camera_args) on this machine against a
testbed camera for a fixed time per variant, and prints CPU % of one core and bytes written per
second. Needs a running testbed (`camgate testbed up`); bounded: DURATION seconds per variant.

    python -m bench.recording_overhead [--seconds 30] [--camera rtsp://10.231.0.1:8554/cam1]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

from camgate.ffmpeg import RTSP_URL_PLACEHOLDER, camera_args
from camgate.model import parse_gateway


def camera(audio: str, record: bool):
    raw = {"id": "bench", "url": "rtsp://127.0.0.1/x", "audio": audio, "record": record, "record_segment": 60}
    return parse_gateway("bench", {"domain": "bench.example.com", "tls": "off", "cameras": [raw]}).cameras[0]


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def run_variant(url: str, audio: str, record: bool, seconds: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        live, rec = Path(tmp, "live"), Path(tmp, "rec")
        live.mkdir()
        rec.mkdir()
        argv = camera_args(camera(audio, record), str(live), 5, str(rec) if record else None)
        argv = [url if a == RTSP_URL_PLACEHOLDER else a for a in argv]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "TZ": "UTC"})
        time.sleep(3)  # connect and settle
        rec0, start = folder_bytes(rec), time.monotonic()
        rss = 0
        while time.monotonic() - start < seconds:
            time.sleep(1)
            status = Path(f"/proc/{proc.pid}/status").read_text()
            rss = max(rss, int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))))
        elapsed = time.monotonic() - start
        written_rec = folder_bytes(rec) - rec0
        proc.terminate()
        proc.wait(timeout=10)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "cpu_pct": 100 * cpu / (elapsed + 3),
        "rec_kBps": written_rec / elapsed / 1000,
        "rss_MB": rss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--camera", default="rtsp://10.231.0.1:8554/cam1")
    args = parser.parse_args()
    print(f"camera {args.camera}, {args.seconds:.0f} s per variant")
    print(f"{'audio':6} {'output':15} {'CPU % of a core':>16} {'recording kB/s':>15} {'GB/day':>7} {'RSS MB':>7}")
    for audio in ("copy", "aac"):
        for record in (False, True):
            r = run_variant(args.camera, audio, record, args.seconds)
            label = "live + record" if record else "live only"
            print(f"{audio:6} {label:15} {r['cpu_pct']:16.1f} {r['rec_kBps']:15.1f} {r['rec_kBps'] * 86400 / 1e6:7.1f} {r['rss_MB']:7.1f}")


if __name__ == "__main__":
    main()
