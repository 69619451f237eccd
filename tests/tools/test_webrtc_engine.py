"""The WHEP engine that is to replace Janus (camgate/gateway/webrtc_engine.py, GStreamer's webrtcbin),
run on this machine as a gateway runs it (the distribution's python3 and GStreamer), fed RTP by
ffmpeg: a standard WHEP exchange played in Chromium with a Bearer token, and each bad request
refused with its reason. Loopback only. (Viewers whose browser is killed: next, with the deploy.)"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from camgate.gateway import whep
from tests.players.browser import browser_unavailable_reason, play_webrtc
from tests.testbed.proc import free_ports, terminate, wait_until

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "camgate" / "gateway" / "webrtc_engine.py"
HOST_PYTHON = "/usr/bin/python3"
SECRET = "tools-test-turn-secret"
CAMERA = "front"
PER_USER = 2
VIEWER_TIMEOUT = 8  # seconds of RTCP silence before the engine ends a viewer


def engine_missing() -> str | None:
    if not (shutil.which("ffmpeg") and Path(HOST_PYTHON).exists()):
        return "needs ffmpeg and the distribution's python3"
    probe = subprocess.run([HOST_PYTHON, "-c", "import gi; gi.require_version('GstWebRTC', '1.0'); from gi.repository import GstWebRTC"],
                           capture_output=True, text=True)  # fmt: skip
    return None if probe.returncode == 0 else f"needs GStreamer's webrtcbin for python3-gi (make setup): {probe.stderr[-200:]}"


pytestmark = pytest.mark.skipif(engine_missing() is not None, reason=str(engine_missing()))
needs_browser = pytest.mark.skipif(browser_unavailable_reason() is not None, reason=str(browser_unavailable_reason()))


class Engine:
    """ffmpeg sending a 640x360 H.264 test pattern (keyframe every second) as RTP, and the engine."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.port = free_ports(1)[0]
        (self.video,) = free_ports(1, socket.SOCK_DGRAM)
        config = {"listen": ["127.0.0.1", self.port], "max_viewers": 10, "max_viewers_per_user": PER_USER,
                  "viewer_timeout": VIEWER_TIMEOUT, "media_timeout": 5, "ice_ports": [42000, 42199],
                  "ice_urls": ["turn:127.0.0.1:3478?transport=udp"], "cameras": {CAMERA: {"video_port": self.video, "audio": None}},
                  "users": {"alice": [CAMERA], "bob": []}}  # fmt: skip
        (tmp / "webrtc.json").write_text(json.dumps(config))
        self.procs = [
            subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
                              "-c:v", "libx264", "-profile:v", "high", "-g", "25", "-tune", "zerolatency", "-bsf:v", "dump_extra",
                              "-f", "rtp", "-payload_type", "96", f"rtp://127.0.0.1:{self.video}?pkt_size=1200"],
                             stderr=open(tmp / "ffmpeg.log", "w"), start_new_session=True),
            subprocess.Popen([HOST_PYTHON, str(ENGINE), str(tmp / "webrtc.json")], cwd=tmp, stderr=open(tmp / "engine.log", "w"),
                             env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "CAMGATE_TURN_SECRET": SECRET},
                             start_new_session=True),
        ]  # fmt: skip
        ready = lambda: (self.status() or {}).get("media_age_ms", {}).get(CAMERA) is not None  # noqa: E731
        assert wait_until(ready, timeout=60), self.log()

    def url(self, camera: str = CAMERA) -> str:
        return f"http://127.0.0.1:{self.port}/api/webrtc/{camera}"

    def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> tuple[int, dict, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
        finally:
            conn.close()

    def status(self) -> dict | None:
        try:
            return json.loads(self.request("GET", "/status")[2])
        except OSError:
            return None

    def log(self) -> str:
        return (self.tmp / "engine.log").read_text()[-3000:]

    def stop(self) -> None:
        for proc in self.procs:
            terminate(proc.pid)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    running = Engine(tmp_path_factory.mktemp("webrtc-engine"))
    yield running
    running.stop()


def token(user: str = "alice", ttl: int = 600) -> str:
    return whep.sign_token(SECRET, user, int(time.time()) + ttl)


def bearer(user: str = "alice") -> dict:
    return {"Authorization": f"Bearer {token(user)}"}


@needs_browser
def test_a_whep_player_plays_the_camera_with_a_bearer_token_and_ends_with_delete(engine):
    result = play_webrtc(engine.url(), None, None, whep_token=token(), seconds=4, startup_timeout=30)
    assert result.ok, result.summary()
    assert [s["status"] for s in result.signalling] == [201, 200]
    assert result.video["codec"] == "video/H264" and (result.video_width, result.video_height) == (640, 360)
    assert result.first_frame_s < 5 and result.frames_in_second_half > 0
    assert wait_until(lambda: engine.status()["viewers"] == 0, timeout=10), engine.status()


def offer_of(kind: str = "video") -> bytes:
    from tests.unit.test_whep import CHROME_OFFER

    return CHROME_OFFER.encode() if kind == "video" else (CHROME_OFFER.split("m=video")[0] + "m=audio" + CHROME_OFFER.split("m=audio")[1]).encode()


@pytest.mark.parametrize(("method", "path", "body", "headers", "status", "reason"), [
    ("POST", "/api/webrtc/front", b"", {}, 401, "Bearer"),
    ("POST", "/api/webrtc/front", offer_of(), {"Authorization": "Bearer 1.AAAA.alice", "Content-Type": "application/sdp"}, 401, "signature"),
    ("POST", "/api/webrtc/front", b"hello", {"Content-Type": "text/plain"}, 415, "application/sdp"),
    ("POST", "/api/webrtc/front", b"hello", {"Content-Type": "application/sdp"}, 400, "not an SDP offer"),
    ("POST", "/api/webrtc/front", offer_of("audio"), {"Content-Type": "application/sdp"}, 422, "no video"),
    ("POST", "/api/webrtc/front", offer_of().replace(b"H264", b"AV1"), {"Content-Type": "application/sdp"}, 422, "no H.264"),
    # nginx refuses a larger body (client_max_body_size 64k) before it reaches the engine.
    ("POST", "/api/webrtc/front", b"v=0\n" + b"a" * whep.MAX_SDP, {"Content-Type": "application/sdp"}, 413, "larger than"),
    ("POST", "/api/webrtc/ghost", offer_of(), {"Content-Type": "application/sdp"}, 404, "no such WebRTC camera"),
    ("PATCH", "/api/webrtc/front/" + "A" * 22, b"a=mid:0\n", {"Content-Type": whep.TRICKLE}, 404, "no such WebRTC session"),
    ("DELETE", "/api/webrtc/front", b"", {}, 405, "DELETE ends a session"),
    ("PUT", "/api/webrtc/front", b"", {}, 405, "not part of WHEP"),
])  # fmt: skip
def test_bad_requests_are_refused_with_their_reason(engine, method, path, body, headers, status, reason):
    sent = {**bearer(), **headers} if "Authorization" not in headers and not (status == 401 and not headers) else headers
    got, answer_headers, text = engine.request(method, path, body, sent)
    assert got == status and reason in json.loads(text)["error"], text
    if status == 401:
        assert answer_headers["www-authenticate"].startswith("Bearer")


def test_another_users_session_is_unknown_to_them(engine):
    created, headers, answer = engine.request("POST", "/api/webrtc/front", offer_of(), {**bearer(), "Content-Type": "application/sdp"})
    assert created == 201 and answer.startswith("v=0") and headers["location"].startswith("/api/webrtc/front/")
    assert 'rel="ice-server"' in headers["link"] and "credential-type=\"password\"" in headers["link"]
    location = headers["location"]
    assert engine.request("DELETE", location, headers=bearer("bob"))[0] == 403  # not bob's camera
    assert engine.request("DELETE", location, headers=bearer("alice"))[0] == 200
    assert engine.request("DELETE", location, headers=bearer("alice"))[0] == 404
