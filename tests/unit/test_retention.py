"""Retention policy: age first, then the disk budget across cameras, never a file being written,
nothing outside the store."""

import os
import struct

import pytest

from camgate.ffmpeg import camera_args
from camgate.model import parse_gateway
from camgate.gateway.retention import Recording, enforce, plan, repair_newest, scan, start_of, summarize, whole_fragments_end
from camgate.units import parse_duration, parse_min_free, parse_size

NOW = 1_800_000_000.0
MB = 1024 * 1024


def rec(camera: str, age_end: float, size: int = MB, length: float = 60) -> Recording:
    end = NOW - age_end
    return Recording(camera, f"/r/{camera}/{end - length:.0f}.ts", end - length, end, size)


def config(**fields):
    return {"root": "/r", "max_size": None, "min_free": None,
            "cameras": {"a": {"retention": 3600, "segment": 60}, "b": {"retention": 86400, "segment": 60}}, **fields}  # fmt: skip


def test_files_past_their_cameras_retention_go():
    old_a, new_a, old_b = rec("a", 7200), rec("a", 0), rec("b", 7200)
    doomed = [r for r, _ in plan([old_a, old_b, new_a], config(), NOW, 10**12, 10**12)]
    assert doomed == [old_a]  # b keeps a day


def test_disk_budget_wins_over_retention_and_deletes_the_oldest_across_cameras():
    files = sorted([rec("a", 500), rec("b", 400), rec("a", 300), rec("b", 200), rec("a", 0), rec("b", 0)], key=lambda r: r.start)
    doomed = [r for r, _ in plan(files, config(max_size=3 * MB), NOW, 10**12, 10**12)]
    assert doomed == files[:3]


def test_min_free_percentage_is_kept():
    files = sorted([rec("a", 500), rec("a", 300), rec("a", 0)], key=lambda r: r.start)
    # 10 % of 100 MB must stay free; 9 MB are free: deleting the oldest (1 MB) suffices.
    doomed = plan(files, config(min_free=["percent", 10]), NOW, 100 * MB, 9 * MB)
    assert [r for r, _ in doomed] == files[:1] and "free" in doomed[0][1]


def test_a_file_being_written_is_never_deleted():
    busy = rec("a", 10)  # written to 10 s ago: within two segment lengths
    newest = rec("b", 9000)  # b's newest file, even if old and over budget
    doomed = [r for r, _ in plan([newest, busy], config(max_size=0, cameras={"a": {"retention": 1, "segment": 60}}), NOW, 1, 0)]
    assert doomed == []


def test_enforce_deletes_only_recordings_in_camera_folders(tmp_path):
    root = tmp_path / "recordings"
    (root / "cam1").mkdir(parents=True)
    old = root / "cam1" / "20000101T000000Z.ts"
    new = root / "cam1" / "20000101T000100Z.mp4"
    stranger = root / "cam1" / "notes.txt"
    outside = tmp_path / "20000101T000000Z.ts"
    for path in (old, new, stranger, outside):
        path.write_bytes(b"x" * 10)
        os.utime(path, (0, 946684800 + 60))
    lines = []
    doomed, summary = enforce({"root": str(root), "max_size": None, "min_free": None,
                               "cameras": {"cam1": {"retention": 60, "segment": 10}}}, now=NOW, log=lines.append)  # fmt: skip
    assert [r.path for r, _ in doomed] == [str(old)]
    # What is left, for the metrics: the newer file only (the stranger and the outsider are no recordings).
    assert summary["cameras"] == {"cam1": {"bytes": 10, "files": 1, "oldest": 946684860.0, "newest": 946684860.0}}
    assert summary["store_bytes"] == 10 and summary["budget_bytes"] >= 10
    assert not old.exists() and new.exists() and stranger.exists() and outside.exists()
    assert lines[0].startswith(f"deleted {old}") and "retention: 1 deleted, 1 kept" in lines[-1]
    assert [r.path for r in scan(str(root))] == [str(new)]


def test_recording_names_are_utc_start_times():
    assert start_of("20261125T124500Z.mp4") == 1795610700.0
    assert start_of("20261125T124500Z.ts") == 1795610700.0  # recorded before fMP4
    assert start_of("seg-1.ts") is None and start_of("20261125T124500Z.mp4.tmp") is None
    assert start_of("20261125T124500Z.m4s") is None


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("30m", 1800), ("12h", 43200), ("7d", 604800), ("0d", None), ("-1d", None), ("1w", None)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_sizes_and_free_space():
    assert parse_size("500G") == 500 * 1024**3 and parse_size("0G") is None and parse_size("5%") is None
    assert parse_min_free("5%") == ("percent", 5) and parse_min_free("20G") == ("bytes", 20 * 1024**3)


def test_recording_comes_from_the_same_pull_through_tee():
    g = parse_gateway("gw", {"domain": "c.example.com", "tls": "off", "cameras": [
        {"id": "cam1", "url": "rtsp://10.0.0.2/a", "record": True, "record_segment": 30}]})  # fmt: skip
    args = camera_args(g.cameras[0], "/run/camgate/hls/cam1", 5, "/var/lib/camgate/recordings/cam1")
    assert args.count("-i") == 1 and args[args.index("-f") + 1] == "tee"
    live, recording = args[-1].split("|")
    assert live.startswith("[f=hls:") and live.endswith("]/run/camgate/hls/cam1/stream.m3u8")
    assert "segment_time=30" in recording and "onfail=ignore" in recording and "use_fifo=1" in recording
    assert recording.endswith("]/var/lib/camgate/recordings/cam1/%Y%m%dT%H%M%SZ.mp4")
    # fragmented MP4 whose files continue each other's timestamps (no discontinuity between files)
    assert "segment_format=mp4:" in recording and "+frag_keyframe+" in recording and "+frag_discont" in recording


def box(kind: bytes, payload: int) -> bytes:
    return struct.pack(">I4s", 8 + payload, kind) + bytes(payload)


def test_repair_trims_the_newest_file_to_its_whole_fragments(tmp_path):
    folder = tmp_path / "cam1"
    folder.mkdir()
    whole = box(b"ftyp", 20) + box(b"moov", 500) + box(b"moof", 100) + box(b"mdat", 4000)
    older = folder / "20000101T000000Z.mp4"
    older.write_bytes(whole + box(b"moof", 100)[:50])  # only the newest is repaired
    newest = folder / "20000101T000100Z.mp4"
    newest.write_bytes(whole + box(b"moof", 100) + box(b"mdat", 4000)[:1000])  # cut inside the second mdat
    lines = []
    assert repair_newest(str(folder), log=lines.append) == str(newest)
    assert newest.stat().st_size == len(whole) and older.stat().st_size == len(whole) + 50
    assert lines == [f"repaired {newest}: cut short by a crash, trimmed from {len(whole) + 108 + 1000} "
                     f"to its whole fragments ({len(whole)} bytes)"]
    assert repair_newest(str(folder), log=lines.append) is None and len(lines) == 1  # whole now: nothing to do


def test_repair_keeps_an_init_section_and_leaves_other_files_alone(tmp_path):
    folder = tmp_path / "cam1"
    folder.mkdir()
    init = box(b"ftyp", 20) + box(b"moov", 500)
    cut = folder / "20000101T000000Z.mp4"
    cut.write_bytes(init + box(b"moof", 100)[:30])
    (folder / "notes.mp4").write_bytes(b"x" * 10)  # not a recording's name
    assert whole_fragments_end(str(cut)) == len(init)
    assert repair_newest(str(folder), log=lambda _: None) == str(cut) and cut.read_bytes() == init
    assert (folder / "notes.mp4").stat().st_size == 10
    assert repair_newest(str(tmp_path / "absent"), log=lambda _: None) is None


class Disk:
    """statvfs of a 1000-byte disk with `free` bytes free (1-byte blocks)."""

    def __init__(self, free: int):
        self.f_blocks, self.f_bavail, self.f_frsize = 1000, free, 1


def test_the_budget_is_the_smaller_of_max_size_and_what_min_free_leaves():
    kept = [Recording("cam1", "/r/cam1/a.mp4", 100.0, 160.0, 300), Recording("cam2", "/r/cam2/b.mp4", 50.0, 110.0, 100)]
    grow = summarize(kept, {"max_size": None, "min_free": ["percent", 10], "cameras": {"cam1": {}, "cam3": {}}}, NOW, Disk(free=500))
    # 400 B in the store, 500 B free of which 100 B (10 %) must stay free: the store may reach 800 B.
    assert (grow["store_bytes"], grow["budget_bytes"]) == (400, 800)
    assert grow["cameras"]["cam3"] == {"bytes": 0, "files": 0, "oldest": None, "newest": None}  # records, has no file yet
    assert grow["cameras"]["cam2"] == {"bytes": 100, "files": 1, "oldest": 50.0, "newest": 110.0}
    capped = summarize(kept, {"max_size": 450, "min_free": ["bytes", 0], "cameras": {}}, NOW, Disk(free=500))
    assert capped["budget_bytes"] == 450
    full = summarize(kept, {"max_size": None, "min_free": ["percent", 60], "cameras": {}}, NOW, Disk(free=500))
    assert full["budget_bytes"] == 400  # below min_free already: no room left, the store is its whole budget
