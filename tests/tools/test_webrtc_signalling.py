"""camgate-webrtc (camgate/gateway/webrtc.py) against a real Janus on this machine, fed by ffmpeg with
the camera unit's own WebRTC output arguments: offers, refusals, limits, answer timeouts, reloads,
and what happens when Janus is gone. Loopback only. (A browser playing through nginx, TURN and the
firewall is tests/integration/test_webrtc.py.)"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from camgate import webrtc
from camgate.ffmpeg import webrtc_output
from camgate.gateway import webrtc as service_module
from camgate.model import parse_gateway
from camgate.render import render
from tests.testbed.proc import free_ports, terminate, wait_until

pytestmark = pytest.mark.skipif(not shutil.which("janus") or not shutil.which("ffmpeg"), reason="needs janus and ffmpeg (make setup)")
SECRET = "tools-test-api-secret"
LIVE, SILENT, NOT_MOUNTED = "live", "silent", "ghost"
PER_USER = 6


def camera(**fields):
    raw = {"id": LIVE, "url": "rtsp://10.0.0.2/live", "audio": "aac", "webrtc": "main", "webrtc_audio": "pcma", **fields}
    return parse_gateway("gw", {"domain": "gw.example", "tls": "off", "cameras": [raw]}).cameras[0]


def mountpoint(camera_id: str, video_port: int, audio_port: int) -> dict:
    return {"id": camera_id, "description": camera_id, "video_port": video_port, "video_pt": webrtc.VIDEO_PT, "fmtp": webrtc.H264_FMTP,
            "audio_port": audio_port, "audio_pt": 8, "audio_codec": "pcma"}  # fmt: skip


class Rig:
    """Janus (streaming plugin + HTTP API on a free loopback port), ffmpeg feeding LIVE, and the
    signalling service, all children of this test."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.janus_port, self.service_port = free_ports(2)
        self.rtp = free_ports(4, socket.SOCK_DGRAM)
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self) -> None:
        conf = self.tmp / "janus"
        conf.mkdir()
        (conf / "janus.jcfg").write_text(render(
            "camgate/janus/janus.jcfg.j2", session_timeout=60, rtp_port_range="41000-41099",
            **{f"disabled_{kind}": webrtc.janus_disabled(kind) for kind in webrtc.JANUS_DISABLED},
        ))  # fmt: skip
        (conf / "janus.transport.http.jcfg").write_text(render("camgate/janus/janus.transport.http.jcfg.j2", port=self.janus_port))
        mounts = [mountpoint(LIVE, self.rtp[0], self.rtp[1]), mountpoint(SILENT, self.rtp[2], self.rtp[3])]
        (conf / "janus.plugin.streaming.jcfg").write_text(
            render("camgate/janus/janus.plugin.streaming.jcfg.j2", mountpoints=mounts, rtp_host=webrtc.RTP_HOST)
        )
        self.janus_log = open(self.tmp / "janus.log", "w")
        self.procs["janus"] = subprocess.Popen(
            ["janus", "--disable-colors", "-F", str(conf), "-C", str(conf / "janus.jcfg"), f"--apisecret={SECRET}"],
            stdout=self.janus_log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        assert wait_until(lambda: "HTTP webserver started" in (self.tmp / "janus.log").read_text(), timeout=30), self.log("janus")
        self.feed()
        self.write_config(users={"alice": [LIVE, SILENT, NOT_MOUNTED], "bob": []})
        env = {"PATH": os.environ["PATH"], "CAMGATE_JANUS_API_SECRET": SECRET}
        self.procs["service"] = subprocess.Popen(
            [sys.executable, "-I", "-S", service_module.__file__, str(self.tmp / "webrtc.json")],
            env=env, stderr=open(self.tmp / "service.log", "w"), start_new_session=True,
        )  # fmt: skip
        assert wait_until(lambda: self.status() is not None, timeout=30), self.log("service")

    def feed(self) -> None:
        """A camera's H.264 + G.711 A-law, then camgate's WebRTC output arguments copying it to LIVE."""
        source = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
             "-f", "lavfi", "-i", "sine=f=440:sample_rate=8000", "-c:v", "libx264", "-profile:v", "baseline", "-g", "25",
             "-tune", "zerolatency", "-c:a", "pcm_alaw", "-f", "nut", "-"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self.procs["source"] = source
        args = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", "-", *webrtc_output(camera(), self.rtp[0])]
        # The product sends audio to video port + 2; this rig's audio port is wherever it was free.
        args = [a.replace(f":{self.rtp[0] + 2}?", f":{self.rtp[1]}?") for a in args]
        self.procs["ffmpeg"] = subprocess.Popen(args, stdin=source.stdout, stderr=open(self.tmp / "ffmpeg.log", "w"), start_new_session=True)
        source.stdout.close()

    def write_config(self, users: dict, **fields) -> None:
        config = {"listen": ["127.0.0.1", self.service_port], "janus": f"http://127.0.0.1:{self.janus_port}/janus",
                  "public_path": "/api/webrtc", "max_viewers": 100, "max_viewers_per_user": PER_USER, "answer_timeout": 4,
                  "media_timeout": 5, "cameras": [LIVE, SILENT], "users": users, **fields}  # fmt: skip
        (self.tmp / "webrtc.json").write_text(json.dumps(config))

    def request(self, method: str, path: str, user: str | None = "alice", body: str = "", content_type: str | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.service_port, timeout=30)
        headers = {"X-Camgate-User": user} if user else {}
        if content_type:
            headers["Content-Type"] = content_type
        conn.request(method, path, body=body.encode(), headers=headers)
        response = conn.getresponse()
        data = response.read().decode()
        conn.close()
        return response.status, dict(response.getheaders()), data

    def status(self) -> dict | None:
        try:
            return json.loads(self.request("GET", "/status")[2])
        except OSError:
            return None

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text()[-3000:] if path.exists() else ""

    def stop(self) -> None:
        for proc in self.procs.values():
            terminate(proc.pid)


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    rig = Rig(tmp_path_factory.mktemp("webrtc"))
    try:
        rig.start()
        # Janus knows the live camera's media before any test asks for it.
        assert wait_until(lambda: rig.request("POST", f"/api/webrtc/{LIVE}")[0] == 201, timeout=30), rig.log("ffmpeg")
        yield rig
    finally:
        rig.stop()


def offer(rig: Rig, camera_id: str = LIVE, user: str = "alice"):
    status, headers, body = rig.request("POST", f"/api/webrtc/{camera_id}", user=user)
    return status, headers.get("Location"), body


def test_a_user_gets_janus_offer_with_h264_and_the_cameras_g711_and_an_opaque_location(rig):
    status, location, sdp = offer(rig)
    assert status == 201, sdp
    assert location.startswith(f"/api/webrtc/{LIVE}/") and len(location.rsplit("/", 1)[1]) == 22
    assert "a=rtpmap:96 H264/90000" in sdp and "a=rtpmap:8 PCMA/8000" in sdp
    assert "a=candidate:" in sdp and "a=end-of-candidates" in sdp  # no trickle needed
    assert "janus" not in location


def test_nobody_and_other_users_are_refused_before_janus_is_asked(rig):
    assert rig.request("POST", f"/api/webrtc/{LIVE}", user=None)[0] == 401
    status, _headers, body = rig.request("POST", f"/api/webrtc/{LIVE}", user="bob")
    assert status == 403 and "not available to you" in body
    assert rig.request("POST", f"/api/webrtc/{LIVE}", user="mallory")[0] == 403


def test_a_camera_without_mountpoint_is_404_and_one_without_media_is_503_with_retry_after(rig):
    assert offer(rig, NOT_MOUNTED)[0] == 404
    # Janus counts a mountpoint's media age from its start: silent for media_timeout (5 s) it is 503.
    assert wait_until(lambda: offer(rig, SILENT)[0] == 503, timeout=5 + 30)
    status, headers, body = rig.request("POST", f"/api/webrtc/{SILENT}")
    assert status == 503 and "play HLS meanwhile" in body and headers.get("Retry-After")


def test_status_tells_how_fresh_each_cameras_media_is_in_janus(rig):
    """What camgate-health reads to judge WebRTC: the live camera's media is fresh, the silent one's is not."""
    ages = lambda: rig.status()["media_age_ms"]  # noqa: E731
    assert wait_until(lambda: ages()[LIVE] < 2000 and ages()[SILENT] > 5000, timeout=30), ages()


def test_answers_need_sdp_and_the_viewers_own_location(rig):
    status, location, sdp = offer(rig)
    assert status == 201, (sdp, rig.log("ffmpeg"), rig.log("janus")[-1500:])
    assert rig.request("PATCH", location, body="v=0", content_type="text/plain")[0] == 415
    assert rig.request("PATCH", location, user="bob", body="v=0", content_type="application/sdp")[0] in (403, 404)
    other = location.rsplit("/", 1)[0] + "/" + "A" * 22
    assert rig.request("PATCH", other, body="v=0", content_type="application/sdp")[0] == 404
    assert rig.request("DELETE", location)[0] == 204
    assert rig.request("PATCH", location, body="v=0", content_type="application/sdp")[0] == 404


def test_a_viewer_that_never_answers_is_gone_after_the_answer_timeout(rig):
    offer(rig)
    assert rig.status()["viewers"] >= 1
    assert wait_until(lambda: rig.status()["viewers"] == 0, timeout=4 + 40), rig.status()


def test_each_user_has_a_limit_of_open_viewers(rig):
    assert wait_until(lambda: rig.status()["viewers"] == 0, timeout=45)
    locations = [offer(rig)[1] for _ in range(PER_USER)]
    status, _headers, body = rig.request("POST", f"/api/webrtc/{LIVE}")
    assert status == 429 and "DELETE" in body
    for location in locations:
        assert rig.request("DELETE", location)[0] == 204
    assert offer(rig)[0] == 201


def test_a_reload_takes_a_camera_away_from_a_user_and_ends_their_viewers(rig):
    _status, location, _sdp = offer(rig)
    rig.write_config(users={"alice": [SILENT], "bob": []})
    rig.procs["service"].send_signal(signal.SIGHUP)
    assert wait_until(lambda: offer(rig)[0] == 403, timeout=20)
    assert rig.request("PATCH", location, body="v=0", content_type="application/sdp")[0] == 403
    rig.write_config(users={"alice": [LIVE, SILENT, NOT_MOUNTED], "bob": []})
    rig.procs["service"].send_signal(signal.SIGHUP)
    assert wait_until(lambda: offer(rig)[0] == 201, timeout=20)


def test_without_janus_a_new_viewer_gets_503_not_a_hang(rig):
    terminate(rig.procs["janus"].pid)
    status, headers, body = rig.request("POST", f"/api/webrtc/{LIVE}")
    assert status == 503 and "Janus" in body and headers.get("Retry-After")
