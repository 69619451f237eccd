"""CPU per camera of the video work a camera unit can add to copying: a snapshot (keyframes decoded,
one JPEG every few seconds) and video="transcode" (MJPEG in, H.264 out), at 360p, 720p and 1080p.

    python -m bench.video_cost [--seconds 20]

Runs this machine's ffmpeg with the exact options the units get (camgate.ffmpeg), reading a local
file in real time (-re) that stands in for a camera: H.264 with a 1 s keyframe interval for the
snapshot, MJPEG for the transcode. Prints the share of one core each costs (user + system time over
wall time), and the cost of copying alone as the baseline the extras come on top of.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import tempfile
from pathlib import Path

from camgate.ffmpeg import snapshot_output, video_args
from camgate.model import parse_gateway

SIZES = ("640x360", "1280x720", "1920x1080")
FPS = 25


def camera(**fields):
    raw = {"id": "bench", "url": "rtsp://192.0.2.1/x", "hls_time": 1, **fields}
    return parse_gateway("bench", {"domain": "bench.example.com", "tls": "off", "cameras": [raw]}).cameras[0]


def source(folder: Path, size: str, codec: list[str], seconds: int) -> Path:
    path = folder / f"{size}-{codec[1]}.mkv"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={FPS}", "-t", str(seconds),
         *codec, str(path)],
        check=True, timeout=600,
    )  # fmt: skip
    return path


def core_share(argv: list[str], seconds: int) -> float:
    """Share of one core a child ffmpeg used over the wall time it ran (real time input)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, check=True, timeout=seconds * 3 + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return 100 * cpu / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    head = ["ffmpeg", "-v", "error", "-nostdin", "-y"]
    print(f"share of one core per camera, {FPS} fps, {args.seconds} s each, this machine's ffmpeg")
    print(f"{'size':10} {'copy only':>10} {'+ snapshot':>11} {'transcode':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for size in SIZES:
            h264 = source(folder, size, ["-c:v", "libx264", "-g", str(FPS), "-preset", "veryfast"], args.seconds)
            mjpeg = source(folder, size, ["-c:v", "mjpeg", "-q:v", "5"], args.seconds)
            copy_out = ["-map", "0:v", "-c:v", "copy", "-f", "null", "-"]
            copy = core_share([*head, "-re", "-i", str(h264), *copy_out], args.seconds)
            snap = core_share(
                [*head, "-skip_frame:v", "nokey", "-re", "-i", str(h264), *copy_out,
                 *snapshot_output(str(folder), major=5)],
                args.seconds,
            )  # fmt: skip
            transcode = core_share(
                [*head, "-re", "-i", str(mjpeg), "-map", "0:v", *video_args(camera(video="transcode")), "-f", "null", "-"],
                args.seconds,
            )
            print(f"{size:10} {copy:9.1f}% {snap - copy:+10.1f}% {transcode:9.1f}%")


if __name__ == "__main__":
    main()
