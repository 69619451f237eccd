"""The camera zoo (tests/testbed/zoo.py) tells the truth: every simulated camera, started the way the
testbed starts it but on 127.0.0.1, sends what its catalogue entry says, as ffprobe sees it."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote

import pytest

from tests.testbed.cameras import (
    FAKE_CAMERA_SCRIPT,
    SYSTEM_PYTHON,
    camera_pids,
    new_password,
    restart_camera,
    start_zoo_camera,
)
from tests.testbed.layout import Layout
from tests.testbed.proc import free_ports, reap, terminate, wait_until
from tests.testbed.zoo import JUMP_BACK_S, KINDS, ZOO, ZooCamera

READ_SECONDS = 13  # of stream per mount: three keyframes of the 4 s GOP camera after the first
JUMP_READ_SECONDS = 18  # the jumping camera's first jump is at 15 s of stream time
PROBE_TIMEOUT = 45


def _system_gi_problem() -> str | None:
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} is missing"
    check = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
    try:
        result = subprocess.run([SYSTEM_PYTHON, "-c", check], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return f"{SYSTEM_PYTHON} took over 30 s to import gi"
    if result.returncode != 0:
        return f"{SYSTEM_PYTHON} has no gi/GstRtspServer (apt: python3-gi gir1.2-gst-rtsp-server-1.0)"
    return None


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root (like the testbed whose cameras these are)"
    if not shutil.which("ffprobe"):
        return "needs ffprobe (apt: ffmpeg)"
    return _system_gi_problem()


_REASON = _skip_reason()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")


class LoopbackLayout(Layout):
    """A testbed layout whose cameras listen on 127.0.0.1 at free ports, under a label no real
    testbed uses (camera_pids/stop_cameras match it exactly, so a real testbed's cameras are safe)."""

    host_address = "127.0.0.1"  # type: ignore[assignment]
    ports: ClassVar[dict[int, int]] = {}

    @property
    def name(self) -> str:
        return f"camgate-zoo-test-{os.getpid()}"

    def camera_port(self, number: int) -> int:
        return self.ports[number]


def with_credentials(url: str, entry: dict) -> str:
    if "password" not in entry:
        return url
    return url.replace("rtsp://", f"rtsp://{quote(entry['username'], safe='')}:{quote(entry['password'], safe='')}@", 1)


def ffprobe(url: str, *args: str, timeout: float = PROBE_TIMEOUT) -> subprocess.CompletedProcess[str]:
    argv = ["ffprobe", "-rtsp_transport", "tcp", "-timeout", "5000000", "-v", "error", *args, "-of", "json", url]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def probe_mount(url: str, seconds: int) -> dict:
    """Streams and `seconds` of packets (pts, flags, size) of one mount."""
    result = ffprobe(
        url, "-show_streams", "-show_packets", "-read_intervals", f"%+{seconds}",
        "-show_entries", "packet=stream_index,pts_time,size,flags",
    )  # fmt: skip
    assert result.returncode == 0, f"ffprobe {url}: {result.stderr[-1500:]}"
    return json.loads(result.stdout)


def video_stream(probe: dict) -> dict:
    return next(s for s in probe["streams"] if s["codec_type"] == "video")


def audio_streams(probe: dict) -> list[dict]:
    return [s for s in probe["streams"] if s["codec_type"] == "audio"]


def pts_of(probe: dict, stream: dict, keyframes_only: bool = False) -> list[float]:
    return [
        float(p["pts_time"]) for p in probe["packets"]
        if p["stream_index"] == stream["index"] and p.get("pts_time") not in (None, "N/A")
        and (not keyframes_only or "K" in p.get("flags", ""))
    ]  # fmt: skip


def backward_jumps(times: list[float]) -> list[tuple[int, float]]:
    """Where (index of the first timestamp after it) and how far back each backward step of more
    than a frame goes."""
    return [(i + 1, earlier - later) for i, (earlier, later) in enumerate(itertools.pairwise(times)) if later < earlier - 0.1]


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """Every zoo camera running on 127.0.0.1, each mount probed for a while (in parallel, since the
    jumping camera alone needs JUMP_READ_SECONDS); stopped again, whatever happens."""
    layout = LoopbackLayout(index=0, state_dir=tmp_path_factory.mktemp("zoo"))
    LoopbackLayout.ports = dict(zip((cam.number for cam in ZOO), free_ports(len(ZOO))))
    layout.run_dir.mkdir(parents=True)
    entries: dict[str, dict] = {}
    try:

        def start(cam: ZooCamera) -> None:
            entries[cam.id] = start_zoo_camera(layout, cam, new_password() if cam.auth else None)

        with ThreadPoolExecutor(len(ZOO)) as pool:
            list(pool.map(start, ZOO))
        jobs = {}
        with ThreadPoolExecutor(2 * len(ZOO)) as pool:
            for cam in ZOO:
                entry = entries[cam.id]
                seconds = JUMP_READ_SECONDS if cam.timestamps_jump else READ_SECONDS
                jobs[(cam.id, "main")] = pool.submit(probe_mount, with_credentials(entry["url"], entry), seconds)
                if cam.sub:
                    jobs[(cam.id, "sub")] = pool.submit(probe_mount, with_credentials(entry["sub_url"], entry), seconds)
        # A mount that could not be read fails its own tests (see probe_of), not the whole file.
        probes = {key: job.exception() or job.result() for key, job in jobs.items()}
        yield {"layout": layout, "entries": entries, "probes": probes}
    finally:
        # Also any camera that started but never got ready (not in `entries`): the label is ours alone.
        for pid in {entry["pid"] for entry in entries.values()} | set(camera_pids(layout)):
            terminate(pid, grace=5.0)
            reap(pid)


def probe_of(zoo: dict, cam: ZooCamera, profile: str) -> dict:
    probe = zoo["probes"][(cam.id, profile)]
    if isinstance(probe, BaseException):
        raise probe
    return probe


def _mounts():
    for cam in ZOO:
        yield pytest.param(cam, "main", id=cam.id)
        if cam.sub:
            yield pytest.param(cam, "sub", id=f"{cam.id}-sub")


MOUNTS = list(_mounts())


def expectation(cam: ZooCamera, profile: str):
    return cam.expect if profile == "main" else cam.sub_expect


def test_fake_camera_offers_exactly_the_kinds_the_zoo_describes():
    result = subprocess.run([SYSTEM_PYTHON, str(FAKE_CAMERA_SCRIPT), "--help"], capture_output=True, text=True, timeout=30)
    choices = re.search(r"--kind \{([^}]*)\}", result.stdout)
    assert choices, result.stdout + result.stderr
    assert set(choices[1].split(",")) == set(KINDS)
    assert {cam.kind for cam in ZOO} == set(KINDS), "the zoo has one camera of every kind"


def test_state_entries_say_kind_sub_url_and_auth_method(zoo):
    for cam in ZOO:
        entry = zoo["entries"][cam.id]
        port = zoo["layout"].camera_port(cam.number)
        assert entry["url"] == f"rtsp://127.0.0.1:{port}{cam.mount}"
        assert entry["kind"] == cam.kind
        assert entry.get("sub_url") == (f"rtsp://127.0.0.1:{port}{cam.sub_mount}" if cam.sub else None)
        assert entry.get("auth_method") == cam.auth


@pytest.mark.parametrize("cam, profile", MOUNTS)
def test_a_mount_sends_the_declared_codecs_picture_size_and_audio(zoo, cam, profile):
    expect = expectation(cam, profile)
    probe = probe_of(zoo, cam, profile)
    video = video_stream(probe)
    assert (video["codec_name"], video["width"], video["height"]) == (expect.video_codec, expect.width, expect.height)
    audio = audio_streams(probe)
    if expect.audio_codec is None:
        assert audio == [], "no audio track"
    else:
        assert len(audio) == 1
        assert (audio[0]["codec_name"], int(audio[0]["sample_rate"]), audio[0]["channels"]) == (
            expect.audio_codec, expect.audio_rate, expect.audio_channels,
        )  # fmt: skip


@pytest.mark.parametrize("cam, profile", MOUNTS)
def test_keyframes_come_at_the_declared_interval(zoo, cam, profile):
    """What a segmenter cuts at: the K flag of video packets (the median gap, so a timestamp jump
    does not count)."""
    expect = expectation(cam, profile)
    probe = probe_of(zoo, cam, profile)
    keys = pts_of(probe, video_stream(probe), keyframes_only=True)
    assert len(keys) >= 3, f"only {len(keys)} keyframes in {READ_SECONDS} s"
    gaps = [b - a for a, b in itertools.pairwise(keys) if b > a]
    assert statistics.median(gaps) == pytest.approx(expect.keyframe_interval, rel=0.1, abs=0.01)


@pytest.mark.parametrize("cam, profile", MOUNTS)
def test_bitrate_stays_under_the_declared_one(zoo, cam, profile):
    """Declared is what the encoder aims at (plus audio): a camera sends about that, less for a
    still picture (the 720p test pattern is one), never much more. Measured as bytes over the video
    frame count at 25 fps (not over timestamps, which may jump)."""
    expect = expectation(cam, profile)
    probe = probe_of(zoo, cam, profile)
    frames = len(pts_of(probe, video_stream(probe)))
    seconds = frames / expect.framerate
    kbps = sum(int(p["size"]) for p in probe["packets"]) * 8 / seconds / 1000
    assert 0.4 * expect.bitrate_kbps < kbps < 1.3 * expect.bitrate_kbps


@pytest.mark.parametrize("cam, profile", MOUNTS)
def test_timestamps_jump_back_only_on_the_jumping_camera(zoo, cam, profile):
    """The jumping camera's video and audio go back by JUMP_BACK_S within JUMP_READ_SECONDS and keep
    streaming after it; every other camera's timestamps only go forward (the negative control)."""
    probe = probe_of(zoo, cam, profile)
    for stream in [video_stream(probe), *audio_streams(probe)]:
        times = pts_of(probe, stream)
        jumps = backward_jumps(times)
        if not cam.timestamps_jump:
            assert jumps == [], f"{stream['codec_type']} went back: {jumps}"
            continue
        assert jumps, f"{stream['codec_type']} never went back in {JUMP_READ_SECONDS} s"
        where, how_far = jumps[0]
        assert how_far == pytest.approx(JUMP_BACK_S, abs=0.5)
        after = times[where:]
        assert len(after) > 25 and after[-1] - after[0] > 1, "it kept streaming after the jump"


def rtsp_describe(url: str) -> str:
    """A bare RTSP DESCRIBE without credentials; the response head."""
    host_port = url.split("/")[2]
    host, port = host_port.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n".encode())
        return sock.recv(4096).decode(errors="replace")


@pytest.mark.parametrize("cam", [c for c in ZOO if c.auth], ids=lambda c: f"{c.id}-{c.auth}")
def test_auth_cameras_challenge_with_their_method_and_refuse_without_the_password(zoo, cam):
    entry = zoo["entries"][cam.id]
    urls = [entry["url"]] + ([entry["sub_url"]] if cam.sub else [])
    for url in urls:
        head = rtsp_describe(url)
        assert head.startswith("RTSP/1.0 401"), head
        challenges = re.findall(r"^WWW-Authenticate: *(\w+)", head, re.MULTILINE | re.IGNORECASE)
        assert challenges == [cam.auth.capitalize()], head
        refused = ffprobe(url, "-show_streams", timeout=20)
        assert refused.returncode != 0 and "401" in refused.stderr, refused.stderr
        wrong = ffprobe(with_credentials(url, {**entry, "password": "not-" + entry["password"]}), "-show_streams", timeout=20)
        assert wrong.returncode != 0 and "401" in wrong.stderr, wrong.stderr
    # The right credentials are accepted: zoo["probes"] read every mount of this camera with them.
    for profile in ("main", "sub") if cam.sub else ("main",):
        assert video_stream(probe_of(zoo, cam, profile))["codec_name"] == cam.expect.video_codec


def test_a_restarted_zoo_camera_comes_back_as_it_was_with_a_new_password(zoo):
    """Testbed.start_camera (after kill_camera, or to change the password) keeps kind, port, sub
    profile and auth method: restart_camera reads them from the state entry."""
    cam = next(c for c in ZOO if c.auth == "digest" and c.sub)
    old = zoo["entries"][cam.id]
    terminate(old["pid"], grace=5.0)
    reap(old["pid"])
    fresh = restart_camera(zoo["layout"], old, "changed-" + old["password"])
    zoo["entries"][cam.id] = fresh  # stopped by the fixture
    assert {k: v for k, v in fresh.items() if k not in ("pid", "password")} == {
        k: v for k, v in old.items() if k not in ("pid", "password")
    }
    assert "Digest" in rtsp_describe(fresh["sub_url"])
    probe = ffprobe(with_credentials(fresh["sub_url"], fresh), "-show_streams", timeout=20)
    assert probe.returncode == 0, probe.stderr
    assert video_stream(json.loads(probe.stdout))["width"] == cam.sub_expect.width
    stale = ffprobe(with_credentials(fresh["url"], old), "-show_streams", timeout=20)
    assert stale.returncode != 0 and "401" in stale.stderr


def test_a_client_joining_does_not_restart_the_others_timestamps(zoo):
    """Cameras are live: ffmpeg's PLAY asks for "Range: npt=0.000-", and had the test sources taken
    that as a seek, each joining client would restart every other client's timestamps at 0 (what a
    gateway saw with 64 units starting on one simulated camera: thousands of timestamp rewrites)."""
    cam = next(c for c in ZOO if c.kind == "h264-pcmu")  # steady, and no sub profile to share with
    entry = zoo["entries"][cam.id]
    url = with_credentials(entry["url"], entry)
    port = zoo["layout"].camera_port(cam.number)

    def clients() -> int:
        out = subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{port} )"], capture_output=True, text=True)
        return len(out.stdout.splitlines())

    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(probe_mount, url, 8)
        assert wait_until(lambda: clients() >= 1, timeout=20, interval=0.2)
        joining = [pool.submit(probe_mount, url, 3) for _ in range(3)]
        probes = [first.result(), *(job.result() for job in joining)]
    for probe in probes:
        video = pts_of(probe, video_stream(probe))
        assert len(video) > 50 and backward_jumps(video) == [], backward_jumps(video)
