"""Recordings: from the same RTSP pull as live, decodable, adding up to the wall time; playback of a
past range as a signed VOD playlist; retention by age and by disk budget (oldest first, live never
starved, nothing outside the store touched); a restart loses nothing already written; API access."""

import base64
import json
import time

import pytest

from tests.players.hls import parse_playlist
from camgate.gateway.retention import start_of
from tests.conftest import phase
from tests.integration.conftest import ffprobe_url
from tests.testbed.proc import wait_until

pytestmark = pytest.mark.every_release  # part of the subset every tested release runs (conftest.EVERY_RELEASE)

ROOT = "/var/lib/camgate/recordings"
SEGMENT = 10  # record_segment of the testbed's recording cameras
SHORT = "cam1"  # retention 1m
LONG = "cam2"  # retention 1d


def auth(state, user: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{state['app_users'][user]['password']}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def recordings(host, camera: str) -> list[dict]:
    """Recording files of a camera on the host, oldest first: name, start, end (mtime), size."""
    out = host.check_output(f"find {ROOT}/{camera} -maxdepth 1 -name '*Z.mp4' -printf '%f %s %T@\\n' | sort")
    files = []
    for line in out.splitlines():
        name, size, mtime = line.split()
        files.append({"name": name, "start": start_of(name), "end": float(mtime), "size": int(size)})
    return files


def spans(files: list[dict], gap: float = 2.0) -> list[tuple[float, float]]:
    """Continuous stretches of recording (a restart or reboot leaves a gap between files)."""
    merged: list[list[float]] = []
    for f in files:
        if merged and f["start"] - merged[-1][1] <= gap:
            merged[-1][1] = max(merged[-1][1], f["end"])
        else:
            merged.append([f["start"], f["end"]])
    return [(start, end) for start, end in merged]


def duration_on_host(host, camera: str, name: str) -> float:
    """Seconds of media in a file. Its fragments carry the stream's own timestamps (they continue the
    previous file's), and ffprobe's duration of a fragmented MP4 runs from 0 to the file's end."""
    result = host.run(f"ffprobe -v error -show_entries format=start_time,duration -of json {ROOT}/{camera}/{name}")
    if result.rc != 0:
        return 0.0
    found = json.loads(result.stdout).get("format", {})
    return float(found.get("duration", 0)) - float(found.get("start_time", 0))


def decodes_on_host(host, camera: str, name: str) -> bool:
    return host.run(f"ffmpeg -v error -xerror -i {ROOT}/{camera}/{name} -f null -").rc == 0


@pytest.fixture(scope="module")
def recorded(host):
    """Wait (bounded) until the cameras have recorded for 90 s: several finished files, and files
    old enough for the one-minute retention to act on. In a full run this has long happened."""
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        now = float(host.check_output("date +%s"))
        files = recordings(host, LONG)
        if len(files) >= 5 and now - files[0]["start"] >= 90:
            return
        time.sleep(2)
    pytest.fail(f"cameras did not record for 90 s within 150 s: {recordings(host, LONG)}")


def test_each_camera_is_pulled_once_for_live_and_recording(host, state):
    peers = host.check_output(f"ss -Htn state established dst {state['host_address']}").split()
    camera_ports = [p.rsplit(":", 1)[1] for p in peers if p.startswith(state["host_address"] + ":")]
    for camera in state["cameras"]:
        port = camera["url"].split(":")[2].split("/")[0]
        assert camera_ports.count(port) == 1, f"{camera['id']}: {camera_ports.count(port)} RTSP connections"


def test_recorded_files_decode_and_add_up_to_the_wall_time(host, recorded):
    files = [f for f in recordings(host, LONG)[:-1] if f["size"]]  # the newest is still being written
    assert len(files) >= 3, files
    durations = [duration_on_host(host, LONG, f["name"]) for f in files]
    wall = sum(end - start for start, end in spans(files))  # recorded wall time, gaps left out
    assert abs(sum(durations) - wall) <= SEGMENT, (sum(durations), wall)
    assert all(decodes_on_host(host, LONG, f["name"]) for f in files)
    assert host.file(f"{ROOT}/{LONG}").user == "camgate"
    assert host.run(f"findmnt -n -o FSTYPE --target {ROOT}").stdout.strip() != "tmpfs"


def test_a_past_range_plays_back_end_to_end_as_a_signed_vod_playlist(gateway, client, state, recorded):
    listing = client.fetch(f"{gateway.base_url}/api/recordings/{LONG}", headers=auth(state, "alice"))
    assert listing.status == 200
    longest = max(json.loads(listing.body)["ranges"], key=lambda r: r["end"] - r["start"])
    start = longest["start"] + 3
    end = min(longest["end"] - 3, start + 25)
    assert end - start >= 10, longest
    answer = client.fetch(
        f"{gateway.base_url}/api/recordings/{LONG}/playback?from={start}&to={end}", headers=auth(state, "alice")
    )
    assert answer.status == 200
    url = json.loads(answer.body)["url"]
    playlist = client.fetch(url)
    assert playlist.status == 200 and playlist.headers["content-type"] == "application/vnd.apple.mpegurl"
    text = playlist.body.decode()
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and text.rstrip().endswith("#EXT-X-ENDLIST")
    segments = parse_playlist(text).segments
    first, last = start_of(segments[0].uri), start_of(segments[-1].uri)
    assert first <= start and last + segments[-1].duration >= end  # covers the requested range
    probed = ffprobe_url(url, state, "format=duration:stream=codec_type,codec_name")
    assert float(probed["format"]["duration"]) >= end - start
    assert "h264" in {s["codec_name"] for s in probed["streams"]}


def test_retention_by_age_keeps_one_minute_for_that_camera_and_logs_deletions(host, recorded):
    host.run_expect([0], "systemctl start camgate-retention.service")
    now = float(host.check_output("date +%s.%N"))
    short = recordings(host, SHORT)
    assert short and all(now - f["end"] <= 60 + 2 * SEGMENT for f in short[:-1])
    assert min(f["start"] for f in short) > now - 60 - 3 * SEGMENT
    deleted = host.check_output("journalctl -u camgate-retention --no-pager -o cat | grep -c '^deleted .*/cam1/' || true")
    assert int(deleted) > 0
    long = recordings(host, LONG)
    assert now - long[0]["start"] > 90  # the other camera keeps its day


def test_a_disk_budget_deletes_the_oldest_across_cameras_and_never_starves_live(host, deployer, client, signed, recorded):
    sentinels = [f"{ROOT}/../20000101T000000Z.ts", f"{ROOT}/README", f"{ROOT}/{LONG}/notes.txt"]
    host.run_expect([0], " && ".join(f"echo keep > {path}" for path in sentinels))
    before = {cam: recordings(host, cam) for cam in (SHORT, LONG)}
    live = signed(SHORT)
    sequence = parse_playlist(client.fetch(live).body.decode()).media_sequence
    try:
        with phase("deploy with a 2M recordings budget"):
            deployer.run(recordings_max_size="2M")
        after = {cam: recordings(host, cam) for cam in (SHORT, LONG)}
        kept = {f["name"] + cam for cam in after for f in after[cam]}
        deleted = [(f["start"], cam) for cam in before for f in before[cam] if f["name"] + cam not in kept]
        remaining = [(f["start"], cam) for cam in after for f in after[cam]]
        assert deleted, "the budget deleted nothing"
        # Oldest first, across cameras; files of two cameras that started in the same second may go either way.
        assert max(start for start, _cam in deleted) <= min(start for start, _cam in remaining)
        for cam in (SHORT, LONG):
            assert after[cam] and after[cam][-1]["name"] >= before[cam][-1]["name"]  # newest kept
        busy = sum(f["size"] for cam in after for f in after[cam] if f["end"] > time.time() - 2 * SEGMENT - 5)
        assert sum(f["size"] for cam in after for f in after[cam]) <= 2 * 1024**2 + busy
        assert all(host.file(path).exists for path in sentinels)
        assert client.wait_for_sequence_advance(live, sequence, timeout=10) > sequence
    finally:
        deployer.run(recordings_max_size="")
        host.run("rm -f " + " ".join(sentinels))


def test_a_camera_restart_mid_recording_resumes_and_keeps_earlier_files_playable(host, recorded):
    before = recordings(host, LONG)
    host.run_expect([0], f"systemctl restart camgate-camera-{LONG}")
    deadline = time.monotonic() + 3 * SEGMENT
    while time.monotonic() < deadline and len(recordings(host, LONG)) <= len(before):
        time.sleep(1)
    after = recordings(host, LONG)
    assert len(after) > len(before), "recording did not resume"
    interrupted = before[-1]["name"]
    assert decodes_on_host(host, LONG, interrupted) and duration_on_host(host, LONG, interrupted) > 0
    assert all(decodes_on_host(host, LONG, f["name"]) for f in before[-3:])


def crash_mid_file(host, camera: str) -> dict | None:
    """SIGKILL a camera's unit while its newest file holds data and the next file is seconds away,
    checked and done in one command on the host (no boundary can fall between the check and the
    kill); the file it was writing, listed in that command before the unit restarts (RestartSec=1):
    name and size as the kill left them. None (nothing killed) when the moment is not right."""
    newest = f"find {ROOT}/{camera} -maxdepth 1 -name '*Z.mp4' -printf '%f %s\\n' | sort | tail -n 1"
    script = (
        f'set -- $({newest}); now=$(date +%s); '
        f'if [ "${{2:-0}}" -gt 0 ] && [ $((now % {SEGMENT})) -le {SEGMENT - 3} ]; then '
        f"systemctl kill --signal=SIGKILL camgate-camera-{camera} && {newest}; else echo wait; fi"
    )
    out = host.check_output(script).split()
    return {"name": out[0], "size": int(out[1])} if len(out) == 2 else None


def test_a_file_cut_by_a_crash_is_repaired_before_the_camera_records_again(host, recorded):
    """SIGKILL (a crash; a power cut is the same to the file) leaves the file being written with a
    partial box at its end, which players fail on; the camera unit trims it to its whole fragments
    before ffmpeg starts again, and the file decodes without an error."""

    # ffmpeg writes a recording in 256 KiB blocks: a file stays empty for its first seconds (about
    # 2.5 s here), and one killed then holds nothing to repair or play. So the kill lands where the
    # newest file has data and the next file (cut on the clock, every SEGMENT s) is seconds away, and
    # the killed file is the one listed with the kill, not one listed before it: a segment boundary in
    # between made that a new, empty file.
    killed: list[dict] = []
    assert wait_until(lambda: killed.append(crash_mid_file(host, LONG)) or killed[-1] is not None, timeout=3 * SEGMENT, interval=0.5)
    interrupted = killed[-1]
    assert interrupted["size"] > 0, f"the kill landed before ffmpeg's first write of a file: {interrupted}"
    # The unit repairs before ffmpeg starts a new file: a newer file means the repair has run.
    assert wait_until(lambda: recordings(host, LONG)[-1]["name"] > interrupted["name"], timeout=3 * SEGMENT, interval=1), (
        "recording did not resume after the crash"
    )
    name = interrupted["name"]
    repaired = host.check_output(f"journalctl -u camgate-camera-{LONG} -o cat --no-pager | grep '^repaired {ROOT}/{LONG}/{name}:' || true")
    print(f"{name}: {interrupted['size']} B at the kill, {repaired.strip() or 'nothing to repair'}")
    size = next(f["size"] for f in recordings(host, LONG) if f["name"] == name)
    assert size == interrupted["size"] or repaired, (interrupted, size)  # only the repair changes it
    assert decodes_on_host(host, LONG, name) and duration_on_host(host, LONG, name) > 0


@pytest.mark.parametrize("path", [f"/api/recordings/{SHORT}", f"/api/recordings/{SHORT}/playback?from=1&to=2"])
def test_recordings_api_needs_app_credentials_and_the_users_camera(gateway, client, state, path):
    url = gateway.base_url + path
    assert client.fetch(url).status == 401
    assert client.fetch(url, headers=auth(state, "bob")).status == 403  # bob sees cam3 only
    assert client.fetch(url, headers=auth(state, "alice")).status == 200


def test_a_live_url_never_opens_recordings(gateway, client, signed, host):
    name = recordings(host, LONG)[0]["name"]
    live_prefix = signed(LONG).rsplit("/", 1)[0]  # .../s/<token>/<expires>/cam2
    assert client.fetch(live_prefix.replace("/s/", "/r/", 1) + "/" + name).status == 403
    assert client.fetch(f"{gateway.base_url}/r/{name}").status == 403
