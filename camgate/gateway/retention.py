"""The recording store's upkeep on the gateway: retention (camgate-retention.timer, and after a
deploy that changes it), and the repair of a file a crash cut short (each recording camera unit,
before ffmpeg starts: `camgate-retention --repair <camera folder>`).

Standard library only: this very file is uploaded to /usr/local/lib/camgate/camgate-retention and
run by the host's python3 with the JSON config the deploy writes (/etc/camgate/retention.json):

    {"root": "/var/lib/camgate/recordings", "max_size": 536870912000 | null,
     "min_free": ["percent", 5] | ["bytes", 21474836480],
     "cameras": {"front": {"retention": 604800, "segment": 60}}}

Two rules, in this order:
1. age: a camera's file whose end (mtime) is older than its retention is deleted;
2. disk budget: while the store is larger than max_size, or the disk has less free space than
   min_free, the oldest file across all cameras is deleted. The budget wins over retention days.
A file still being written (the newest of its camera, or modified within two segment lengths) is
never deleted. Only files named like recordings, directly in a camera folder of the store, are
ever considered: nothing else on the disk is touched. Every deletion is logged with its reason.
"""

from __future__ import annotations

import json
import os
import re
import struct
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone

# .mp4 (fragmented MP4); .ts were written by camgate before recordings moved to fMP4.
RECORDING_NAME_RE = re.compile(r"^(\d{8}T\d{6}Z)\.(?:mp4|ts)$")
CAMERA_DIR_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
DEFAULT_SEGMENT = 60


@dataclass(frozen=True)
class Recording:
    camera: str
    path: str
    start: float  # UTC seconds, from the name
    end: float  # mtime: when the file was last written
    size: int


def start_of(name: str) -> float | None:
    match = RECORDING_NAME_RE.match(name)
    if not match:
        return None
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()


def scan(root: str) -> list[Recording]:
    """Every recording file in the store, oldest first."""
    found = []
    try:
        cameras = sorted(os.listdir(root))
    except FileNotFoundError:
        return []
    for camera in cameras:
        folder = os.path.join(root, camera)
        if not CAMERA_DIR_RE.match(camera) or not os.path.isdir(folder) or os.path.islink(folder):
            continue
        with os.scandir(folder) as entries:
            for entry in entries:
                start = start_of(entry.name)
                if start is None or not entry.is_file(follow_symlinks=False):
                    continue
                info = entry.stat(follow_symlinks=False)
                found.append(Recording(camera, entry.path, start, info.st_mtime, info.st_size))
    return sorted(found, key=lambda r: (r.start, r.camera))


def being_written(recordings: list[Recording], now: float, cameras: dict) -> set[str]:
    """Paths that may still be open for writing: the newest file of each camera, and any file
    modified within two of its camera's segment lengths."""
    newest: dict[str, Recording] = {}
    busy = set()
    for rec in recordings:
        if rec.camera not in newest or rec.start > newest[rec.camera].start:
            newest[rec.camera] = rec
        segment = cameras.get(rec.camera, {}).get("segment", DEFAULT_SEGMENT)
        if now - rec.end < 2 * segment:
            busy.add(rec.path)
    return busy | {rec.path for rec in newest.values()}


def min_free_bytes(min_free: list | None, disk_total: int) -> int:
    if not min_free:
        return 0
    kind, value = min_free
    return disk_total * value // 100 if kind == "percent" else value


def plan(recordings: list[Recording], config: dict, now: float, disk_total: int, disk_free: int) -> list[tuple[Recording, str]]:
    """(recording, reason) to delete, oldest first within each rule."""
    cameras = config.get("cameras", {})
    busy = being_written(recordings, now, cameras)
    doomed: list[tuple[Recording, str]] = []
    kept: list[Recording] = []
    for rec in recordings:
        retention = cameras.get(rec.camera, {}).get("retention")
        if retention and now - rec.end > retention and rec.path not in busy:
            doomed.append((rec, f"older than {retention} s"))
        else:
            kept.append(rec)
    used = sum(r.size for r in kept)
    free = disk_free + sum(r.size for r, _ in doomed)
    max_size = config.get("max_size")
    floor = min_free_bytes(config.get("min_free"), disk_total)
    for rec in list(kept):  # oldest first, across cameras
        over_size = max_size is not None and used > max_size
        under_free = free < floor
        if not (over_size or under_free):
            break
        if rec.path in busy:
            continue
        reason = f"store {used} B > max {max_size} B" if over_size else f"free {free} B < min {floor} B"
        doomed.append((rec, reason))
        used -= rec.size
        free += rec.size
    return doomed


def enforce(config: dict, now: float | None = None, log=print) -> tuple[list[tuple[Recording, str]], dict]:
    """Delete what the rules say; return (what was deleted with why, the store's summary after it)."""
    root = config["root"]
    now = time.time() if now is None else now
    recordings = scan(root)
    stats = os.statvfs(root)
    doomed = plan(recordings, config, now, stats.f_blocks * stats.f_frsize, stats.f_bavail * stats.f_frsize)
    for rec, reason in doomed:
        try:
            os.unlink(rec.path)
            log(f"deleted {rec.path} ({rec.size} B): {reason}")
        except FileNotFoundError:
            pass
    gone = {rec.path for rec, _ in doomed}
    kept = [rec for rec in recordings if rec.path not in gone]
    log(f"retention: {len(doomed)} deleted, {len(kept)} kept, {sum(r.size for r in kept)} B in store")
    return doomed, summarize(kept, config, now, os.statvfs(root))


def summarize(kept: list[Recording], config: dict, now: float, stats) -> dict:
    """What the metrics report of the store: per camera its bytes, files, oldest start and newest
    end; the disk budget (recordings_max_size, or what the store may grow to before min_free is
    reached, whichever is smaller) and how much of it the store uses."""
    disk_total, disk_free = stats.f_blocks * stats.f_frsize, stats.f_bavail * stats.f_frsize
    store = sum(r.size for r in kept)
    budget = store + max(0, disk_free - min_free_bytes(config.get("min_free"), disk_total))
    if config.get("max_size") is not None:
        budget = min(budget, config["max_size"])
    cameras: dict[str, dict] = {camera: {"bytes": 0, "files": 0, "oldest": None, "newest": None} for camera in config.get("cameras", {})}
    for rec in kept:
        entry = cameras.setdefault(rec.camera, {"bytes": 0, "files": 0, "oldest": None, "newest": None})
        entry["bytes"] += rec.size
        entry["files"] += 1
        entry["oldest"] = rec.start if entry["oldest"] is None else min(entry["oldest"], rec.start)
        entry["newest"] = rec.end if entry["newest"] is None else max(entry["newest"], rec.end)
    return {
        "generated": round(now, 3),
        "store_bytes": store,
        "budget_bytes": budget,
        "disk_total_bytes": disk_total,
        "disk_free_bytes": disk_free,
        "cameras": cameras,
    }


def write_atomically(path: str, text: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as out:
        out.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def whole_fragments_end(path: str) -> int:
    """Where a fragmented MP4 file's last whole fragment ends (after its init section, or after the
    last mdat read whole), walking the top-level box headers; 0 when not even the init section is whole.
    A file ffmpeg closed ends there; one cut by a crash (SIGKILL, power loss) ends in a partial box."""
    keep = offset = 0
    with open(path, "rb") as handle:
        total = os.fstat(handle.fileno()).st_size
        while offset + 8 <= total:
            handle.seek(offset)
            header = handle.read(16)
            size, kind = struct.unpack_from(">I4s", header)
            if size == 1 and len(header) == 16:
                (size,) = struct.unpack_from(">Q", header, 8)
            if size < 8 or offset + size > total:
                break
            offset += size
            if kind in (b"moov", b"mdat"):
                keep = offset
    return keep


def repair_newest(folder: str, log=print) -> str | None:
    """Trim a camera's newest fMP4 recording to its last whole fragment: players fail on the cut box
    a crash leaves at the end (hls.js: a fatal decode error; ffmpeg: invalid AAC), and this file is
    the only one a crash can have cut (the camera unit runs this before it starts a new file). The
    path trimmed, or None when there was nothing to do."""
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".mp4") and start_of(n) is not None)
    except FileNotFoundError:
        return None
    if not names:
        return None
    path = os.path.join(folder, names[-1])
    size, end = os.path.getsize(path), whole_fragments_end(path)
    if end >= size:
        return None
    os.truncate(path, end)
    log(f"repaired {path}: cut short by a crash, trimmed from {size} to its whole fragments ({end} bytes)")
    return path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] == "--repair":
        repair_newest(args[1])
        return 0
    if len(args) not in (1, 3) or (len(args) == 3 and args[1] != "--summary"):
        print("usage: camgate-retention CONFIG.json [--summary FILE] | --repair CAMERA_FOLDER", file=sys.stderr)
        return 2
    with open(args[0]) as handle:
        config = json.load(handle)
    _doomed, summary = enforce(config)
    if len(args) == 3:
        write_atomically(args[2], json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
