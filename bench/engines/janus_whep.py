#!/usr/bin/python3
"""WHEP in front of Janus: a BENCH-ONLY comparison engine for bench/webrtc_engines.py, never shipped,
never deployed (camgate's engine is camgate/gateway/webrtc.py, GStreamer's webrtcbin).

    /usr/bin/python3 bench/engines/janus_whep.py --port 8090 --janus-port 8088 --rtp-port 5004 \
        --ice-ports 42400-42599 --dir /tmp/janus [--camera front]

Issue 27 compares the WebRTC engines packaged in Debian 12 and 13; this is Debian 12's Janus 1.1.2
(/usr/bin/janus), run as this program's child with a config of its own written into --dir:
- Janus: the Streaming plugin and the HTTP transport only (every other plugin, transport, logger and
  event handler disabled), its API on 127.0.0.1:--janus-port, no admin API; no STUN or TURN, no IPv6,
  .local candidates ignored, half trickle (Janus's candidates are in its offer), its media ports from
  --ice-ports. ICE on this machine only: Janus 1.1.2 never gathers on a loopback interface (src/ice.c
  skips IFF_LOOPBACK before its enforce list applies; "lo" or "127.0.0.1" there leaves libnice to
  gather on every address), so ice_enforce_list is the machine's own IPv4 address, which the kernel
  delivers through lo: nothing leaves the machine (Chromium's own candidates are on that address too).
- one camera: one RTP mountpoint receiving the camera's H.264 (payload type 96, packetization-mode 1)
  on 127.0.0.1:--rtp-port, relayed as it comes, never decoded or re-encoded; bufferkf (a joiner gets
  the last keyframe at once), as camgate's old Janus deployment had it.
- WHEP with the counter-offer (draft-ietf-wish-whep): Janus 1.1.2's Streaming plugin only offers, so
  POST /api/webrtc/<camera> (the browser's offer, unused) -> a Janus session, a Streaming handle,
  "watch", and 406 with Janus's offer (application/sdp) and a Location; PATCH <Location> with the
  browser's answer (application/sdp, its candidates in it) -> "start" -> 204; DELETE <Location> -> 200
  (the session destroyed). A PATCH of any other type (trickle) -> 204, unused: the browser's candidates
  reach Janus as peer-reflexive ones. Any Authorization is accepted (a bench on loopback).
  GET /status -> {"viewers" (sessions), "connected" (Janus said webrtcup, no hangup since),
  "media_age_ms": {camera: ms since Janus last got its RTP, or null}} (JSON). Anything else: 404 with
  a small HTML page (the browser player of tests/players writes itself into the server's 404 document).
- one thread per viewer follows its session's events (long polls) and keeps it alive; it ends the
  viewer (destroys the session) on hangup, detach, or no answer within ANSWER_TIMEOUT s.
Standard library only. SIGTERM stops Janus (SIGTERM, then SIGKILL after 5 s) and this program.
"""

from __future__ import annotations

import argparse
import fcntl
import glob
import json
import secrets
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

JANUS = "/usr/bin/janus"
WANTED = {"plugins": {"libjanus_streaming.so"}, "transports": {"libjanus_http.so"}, "loggers": set(), "events": set()}
LONG_POLL = 30  # Janus answers an event long poll after at most 30 s (a keepalive event)
KEEPALIVE_EVERY = 20  # seconds; session_timeout is 60
OFFER_TIMEOUT = 10  # seconds for Janus to make its offer
ANSWER_TIMEOUT = 30  # seconds for the browser's answer (PATCH) after the offer
PATH = "/api/webrtc/"


def janus_library() -> str:
    """Janus's plugins/transports/events/loggers folders' parent (Debian: /usr/lib/<triplet>/janus)."""
    found = sorted(glob.glob("/usr/lib/*/janus/plugins/libjanus_streaming.so"))
    if not found:
        raise SystemExit("no Janus streaming plugin under /usr/lib/*/janus: apt-get install janus (Debian 12)")
    return str(Path(found[0]).parents[1])


def disabled(library: str, kind: str) -> str:
    """Every module of `kind` Janus would load (the *.so names in its folder) but the wanted ones."""
    names = sorted(Path(p).name for p in glob.glob(f"{library}/{kind}/*.so"))
    return ",".join(name for name in names if name not in WANTED[kind])


def own_ipv4() -> str:
    """The first IPv4 address of an interface that is not loopback (the one Janus calls its local IP)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, name in socket.if_nameindex():
            try:
                packed = fcntl.ioctl(sock.fileno(), 0x8915, struct.pack("256s", name.encode()[:15]))  # SIOCGIFADDR
            except OSError:
                continue  # no IPv4 address
            if not (address := socket.inet_ntoa(packed[20:24])).startswith("127."):
                return address
    raise SystemExit("no IPv4 address but loopback: Janus 1.1.2 gathers no ICE candidate on loopback")


def write_config(folder: Path, args) -> Path:
    """Janus's config folder: janus.jcfg, the HTTP transport's and the Streaming plugin's configs."""
    library = janus_library()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "janus.jcfg").write_text(f"""general: {{
	configs_folder = "{folder}"
	plugins_folder = "{library}/plugins"
	transports_folder = "{library}/transports"
	events_folder = "{library}/events"
	loggers_folder = "{library}/loggers"
	server_name = "camgate-bench"
	debug_level = 4
	# Every request of a session counts as activity: each viewer's thread long-polls and sends keepalives.
	session_timeout = 60
	hide_dependencies = true
}}
media: {{
	ipv6 = false
	rtp_port_range = "{args.ice_ports}"
}}
nat: {{
	ice_enforce_list = "{own_ipv4()}"
	# The browser's host candidates are .local names: resolving them would send mDNS off loopback. Its
	# connectivity checks reach Janus anyway (peer-reflexive candidates).
	ignore_mdns = true
	full_trickle = false
	nice_debug = false
}}
plugins: {{
	disable = "{disabled(library, "plugins")}"
}}
transports: {{
	disable = "{disabled(library, "transports")}"
}}
loggers: {{
	disable = "{disabled(library, "loggers")}"
}}
events: {{
	broadcast = false
	disable = "{disabled(library, "events")}"
}}
""")
    (folder / "janus.transport.http.jcfg").write_text(f"""general: {{
	json = "plain"
	base_path = "/janus"
	http = true
	ip = "127.0.0.1"
	port = {args.janus_port}
	https = false
}}
admin: {{
	admin_http = false
	admin_https = false
}}
""")
    (folder / "janus.plugin.streaming.jcfg").write_text(f"""general: {{
	string_ids = true
	events = false
}}
{args.camera}: {{
	type = "rtp"
	id = "{args.camera}"
	description = "bench camera"
	media = (
		{{
			type = "video"
			mid = "v"
			port = {args.rtp_port}
			iface = "127.0.0.1"
			pt = 96
			codec = "h264"
			fmtp = "profile-level-id=42e01f;packetization-mode=1"
			bufferkf = true
		}}
	)
}}
""")
    return folder / "janus.jcfg"


class JanusError(Exception):
    pass


class Janus:
    """Janus's HTTP API (JSON over plain HTTP on loopback)."""

    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}/janus"

    def request(self, path: str, body: dict, timeout: float = 10) -> dict:
        data = json.dumps({**body, "transaction": secrets.token_hex(8)}).encode()
        return self._read(urllib.request.Request(self.base + path, data=data, headers={"Content-Type": "application/json"}), timeout)

    def events(self, session: int) -> list[dict]:
        """Long poll: up to 10 events of the session, or a keepalive after LONG_POLL s."""
        query = urllib.parse.urlencode({"maxev": 10, "rid": int(time.time() * 1000)})
        reply = self._read(urllib.request.Request(f"{self.base}/{session}?{query}"), LONG_POLL + 5)
        return reply if isinstance(reply, list) else [reply]

    @staticmethod
    def _read(req: urllib.request.Request, timeout: float):
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise JanusError(f"Janus is not answering: {error}") from error

    def create_session(self) -> int:
        return self._data_id(self.request("", {"janus": "create"}))

    def attach_streaming(self, session: int) -> int:
        return self._data_id(self.request(f"/{session}", {"janus": "attach", "plugin": "janus.plugin.streaming"}))

    def message(self, session: int, handle: int, body: dict, jsep: dict | None = None) -> dict:
        return self.request(f"/{session}/{handle}", {"janus": "message", "body": body, **({"jsep": jsep} if jsep else {})})

    def keepalive(self, session: int) -> bool:
        return self.request(f"/{session}", {"janus": "keepalive"}).get("janus") == "ack"

    def destroy(self, session: int) -> None:
        try:
            self.request(f"/{session}", {"janus": "destroy"}, timeout=5)
        except JanusError:
            pass  # Janus gone: the session with it

    @staticmethod
    def _data_id(reply: dict) -> int:
        if reply.get("janus") != "success":
            raise JanusError(f"Janus refused: {reply.get('error', reply)}")
        return int(reply["data"]["id"])


def plugin_data(event: dict) -> dict:
    return ((event.get("plugindata") or {}).get("data")) or {}


class Viewer:
    def __init__(self, session: int, handle: int):
        self.id = secrets.token_urlsafe(16)
        self.session, self.handle = session, handle
        self.offer: str | None = None
        self.error: str | None = None
        self.offered = threading.Event()  # set when Janus's offer (or its refusal) came
        self.answered = False
        self.connected = False
        self.ended = threading.Event()


class Engine:
    def __init__(self, janus: Janus, camera: str):
        self.janus = janus
        self.camera = camera
        self.viewers: dict[str, Viewer] = {}
        self.lock = threading.Lock()
        self.started = time.monotonic()  # Janus answers: its mountpoint was made just before

    def watch(self) -> Viewer:
        """A new viewer with Janus's offer, or JanusError."""
        session = self.janus.create_session()
        try:
            viewer = Viewer(session, self.janus.attach_streaming(session))
        except JanusError:
            self.janus.destroy(session)
            raise
        with self.lock:
            self.viewers[viewer.id] = viewer
        threading.Thread(target=self.follow, args=(viewer,), name=f"viewer-{viewer.id[:6]}", daemon=True).start()
        try:
            reply = self.janus.message(session, viewer.handle, {"request": "watch", "id": self.camera})
            if reply.get("janus") != "ack":
                viewer.error = f"Janus refused to watch: {reply.get('error', reply)}"
            elif not viewer.offered.wait(OFFER_TIMEOUT):
                viewer.error = f"Janus made no offer within {OFFER_TIMEOUT} s"
        except JanusError as error:
            viewer.error = str(error)
        if viewer.error or viewer.offer is None:
            self.end(viewer.id)
            raise JanusError(viewer.error or "no offer")
        return viewer

    def answer(self, viewer_id: str, sdp: str) -> tuple[int, str]:
        """Janus's "start" with the browser's answer: (HTTP status, reason)."""
        with self.lock:
            viewer = self.viewers.get(viewer_id)
        if viewer is None:
            return 404, "no such viewer"
        if viewer.answered:
            return 409, "this viewer has its answer already"
        reply = self.janus.message(viewer.session, viewer.handle, {"request": "start"}, {"type": "answer", "sdp": sdp, "trickle": False})
        if reply.get("janus") != "ack":
            return 400, f"Janus refused the answer: {reply.get('error', reply)}"
        viewer.answered = True
        return 204, ""

    def end(self, viewer_id: str) -> bool:
        with self.lock:
            viewer = self.viewers.pop(viewer_id, None)
        if viewer is None:
            return False
        viewer.ended.set()
        self.janus.destroy(viewer.session)
        return True

    def follow(self, viewer: Viewer) -> None:
        """The viewer's session events until it ends: the offer, webrtcup, hangup; keepalives."""
        created = last_keepalive = time.monotonic()
        try:
            while not viewer.ended.is_set():
                if not viewer.answered and time.monotonic() - created > ANSWER_TIMEOUT:
                    return
                for event in self.janus.events(viewer.session):
                    kind, data = event.get("janus"), plugin_data(event)
                    jsep = event.get("jsep") or {}
                    if jsep.get("type") == "offer":
                        viewer.offer = jsep.get("sdp")
                        viewer.offered.set()
                    elif data.get("error"):
                        viewer.error = f"Janus: {data['error']}"
                        viewer.offered.set()
                    if kind == "webrtcup":
                        viewer.connected = True
                    elif kind in ("hangup", "detached") or (kind == "error" and (event.get("error") or {}).get("code") == 458):
                        viewer.connected = False
                        return  # the PeerConnection is over (458: no such session)
                if not viewer.ended.is_set() and time.monotonic() - last_keepalive >= KEEPALIVE_EVERY:
                    last_keepalive = time.monotonic()
                    if not self.janus.keepalive(viewer.session):
                        return
        except JanusError:
            return
        finally:
            viewer.offered.set()
            self.end(viewer.id)

    def media_age_ms(self) -> int | None:
        """Ms since the mountpoint last got RTP (Janus's age_ms), None if never or Janus not answering.
        Janus counts the age from the mountpoint's creation until its first packet: an age as old as
        Janus is no media."""
        try:
            session = self.janus.create_session()
        except JanusError:
            return None
        try:
            info = plugin_data(self.janus.message(session, self.janus.attach_streaming(session), {"request": "info", "id": self.camera}))
            ages = [m["age_ms"] for m in (info.get("info") or {}).get("media", []) if isinstance(m.get("age_ms"), int)]
            if not ages or min(ages) > (time.monotonic() - self.started) * 1000 - 500:
                return None
            return min(ages)
        except JanusError:
            return None
        finally:
            self.janus.destroy(session)

    def status(self) -> dict:
        with self.lock:
            viewers = list(self.viewers.values())
        return {"viewers": len(viewers), "connected": sum(v.connected for v in viewers), "media_age_ms": {self.camera: self.media_age_ms()}}


class Handler(BaseHTTPRequestHandler):
    engine: Engine  # set on the class by main()

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def viewer_id(self) -> str | None:
        prefix = f"{PATH}{self.engine.camera}/"
        path = self.path.split("?", 1)[0]
        return path[len(prefix) :] if path.startswith(prefix) and "/" not in path[len(prefix) :] else None

    def body(self) -> str:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8", "replace")

    def do_GET(self):
        if self.path == "/status":
            return self.send(200, json.dumps(self.engine.status()).encode(), "application/json")
        self.not_found()

    def do_POST(self):
        if self.path.split("?", 1)[0] != PATH + self.engine.camera:
            return self.not_found()
        self.body()  # the browser's offer: Janus's Streaming plugin cannot take it
        try:
            viewer = self.engine.watch()
        except JanusError as error:
            return self.send(503, str(error).encode(), "text/plain")
        self.send(406, viewer.offer.encode(), "application/sdp", {"Location": f"{PATH}{self.engine.camera}/{viewer.id}"})

    def do_PATCH(self):
        viewer_id = self.viewer_id()
        if viewer_id is None:
            return self.not_found()
        sdp = self.body()
        if (self.headers.get("Content-Type") or "").split(";")[0].strip().lower() != "application/sdp":
            return self.send(204, b"")  # trickle: unused, the browser's checks reach Janus anyway
        try:
            status, reason = self.engine.answer(viewer_id, sdp)
        except JanusError as error:
            status, reason = 503, str(error)
        self.send(status, reason.encode(), "text/plain" if reason else None)

    def do_DELETE(self):
        viewer_id = self.viewer_id()
        if viewer_id is None:
            return self.not_found()
        self.send(200 if self.engine.end(viewer_id) else 404, b"")

    def not_found(self) -> None:
        # A body, as the gateway's 404 page has: the browser player writes itself into this document.
        self.send(404, b"<!doctype html><title>404</title>not found", "text/html")

    def send(self, status: int, body: bytes, content_type: str | None = None, headers: dict | None = None) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def wait_for_janus(proc: subprocess.Popen, janus: Janus) -> None:
    """Until Janus's API answers (30 s at most)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if janus.request("", {"janus": "info"}, timeout=2).get("janus") == "server_info":
                return
        except JanusError:
            time.sleep(0.2)
    raise SystemExit("Janus did not start (its log is above)")


def stop_janus(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="WHEP's HTTP port on 127.0.0.1")
    parser.add_argument("--janus-port", type=int, required=True, help="Janus's HTTP API port on 127.0.0.1")
    parser.add_argument("--rtp-port", type=int, required=True, help="the camera's RTP H.264 on 127.0.0.1")
    parser.add_argument("--ice-ports", required=True, help="Janus's media (ICE) ports, MIN-MAX")
    parser.add_argument("--dir", type=Path, required=True, help="a folder for Janus's config")
    parser.add_argument("--camera", default="front")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # SystemExit: the finally below stops Janus
    janus = Janus(args.janus_port)
    config = write_config(args.dir, args)
    proc = subprocess.Popen([JANUS, "--disable-colors", "-C", str(config), "-F", str(config.parent)], stdin=subprocess.DEVNULL)
    try:
        wait_for_janus(proc, janus)
        Handler.engine = Engine(janus, args.camera)
        server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
        print(f"READY http://127.0.0.1:{args.port}{PATH}{args.camera} (Janus pid {proc.pid})", flush=True)
        sys.exit(f"Janus exited ({proc.wait()})")
    finally:
        stop_janus(proc)


if __name__ == "__main__":
    main()
