"""Camera health, computed on the gateway (camgate-health.timer every 10 s, and `camgate status`).

Standard library only: this file is uploaded to /usr/local/lib/camgate/camgate-health and run by the
host's python3 with the JSON config the deploy writes (/etc/camgate/health.json):

    {"cameras": [{"id": "front", "unit": "camgate-camera-front.service",
                  "playlist": "/run/camgate/hls/front/stream.m3u8", "hls_time": 2}]}

Per camera: up/down, age of the newest segment, the unit's state, automatic restarts since boot
(systemd's NRestarts) and the last line ffmpeg logged that is not known noise. A camera is *up*
when its unit is active and its playlist was rewritten within STALE_SEGMENTS segment durations.

    camgate-health CONFIG.json              print the status as JSON
    camgate-health CONFIG.json --out FILE   write it to FILE atomically (what the timer does)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

STALE_SEGMENTS = 3
STALE_GRACE = 2.0  # seconds on top, for the camera's keyframe interval and scheduling
# Lines that say nothing about why a camera is down (the backoff notice repeats the symptom).
NOISE = ("camgate: restart ", "Timestamps are unset in a packet", "using insecure memory", "Non-monotonous DTS", "Non-monotonic DTS")
JOURNAL_LINES = 3000


def newest_segment_age(playlist: str, now: float) -> float | None:
    """ffmpeg rewrites the playlist at every new segment: its mtime is the newest segment's."""
    try:
        return max(0.0, now - os.stat(playlist).st_mtime)
    except FileNotFoundError:
        return None


def is_up(active_state: str, age: float | None, hls_time: int) -> bool:
    return active_state == "active" and age is not None and age <= STALE_SEGMENTS * hls_time + STALE_GRACE


def unit_states(units: list[str]) -> dict[str, dict[str, str]]:
    """`systemctl show` of several units in one call: {unit: {property: value}}."""
    if not units:
        return {}
    out = subprocess.run(
        ["systemctl", "show", "--property=Id,ActiveState,SubState,NRestarts,ExecMainStatus", *units],
        capture_output=True, text=True, timeout=30,
    ).stdout  # fmt: skip
    states: dict[str, dict[str, str]] = {}
    for block in out.strip().split("\n\n"):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if props.get("Id"):
            states[props["Id"]] = props
    return states


def last_lines(units: list[str]) -> dict[str, str]:
    """The last meaningful line each unit's own processes logged (one journalctl call for all)."""
    if not units:
        return {}
    matches = [item for unit in units for item in ("+", f"_SYSTEMD_UNIT={unit}")][1:]
    result = subprocess.run(
        ["journalctl", "--no-pager", "-o", "json", "-n", str(JOURNAL_LINES), *matches],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    found: dict[str, str] = {}
    for line in result.stdout.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        message = entry.get("MESSAGE")
        if isinstance(message, list):  # journald sends non-UTF-8 messages as byte arrays
            message = bytes(message).decode(errors="replace")
        if message and not any(noise in message for noise in NOISE):
            found[entry.get("_SYSTEMD_UNIT", "")] = message.strip()
    return found


def status(config: dict, now: float | None = None) -> dict:
    now = time.time() if now is None else now
    cameras = config.get("cameras", [])
    units = [c["unit"] for c in cameras]
    states = unit_states(units)
    lines = last_lines(units)
    report = {"generated": round(now, 3), "cameras": {}}
    for cam in cameras:
        state = states.get(cam["unit"], {})
        age = newest_segment_age(cam["playlist"], now)
        report["cameras"][cam["id"]] = {
            "up": is_up(state.get("ActiveState", ""), age, cam["hls_time"]),
            "newest_segment_age": None if age is None else round(age, 1),
            "state": f"{state.get('ActiveState', 'unknown')}/{state.get('SubState', 'unknown')}",
            "restarts": int(state.get("NRestarts") or 0),
            "last_error": lines.get(cam["unit"]),
        }
    return report


def write_atomically(path: str, text: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as out:
        out.write(text)
    os.chmod(tmp, 0o640)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 3) or (len(args) == 3 and args[1] != "--out"):
        print("usage: camgate-health CONFIG.json [--out FILE]", file=sys.stderr)
        return 2
    with open(args[0]) as handle:
        report = json.dumps(status(json.load(handle)), indent=1)
    if len(args) == 3:
        write_atomically(args[2], report + "\n")
    else:
        print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
