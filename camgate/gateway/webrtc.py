"""camgate-webrtc: the app's WebRTC signalling, between nginx and Janus (runs on the gateway).

Standard library only: uploaded to /usr/local/lib/camgate/camgate-webrtc and run by the host's
python3 as camgate-webrtc.service, on loopback only, with the JSON config the deploy writes
(/etc/camgate/webrtc.json) and Janus's API secret in the environment (CAMGATE_JANUS_API_SECRET,
from a root-only EnvironmentFile):

    {"listen": ["127.0.0.1", 8086], "janus": "http://127.0.0.1:8088/janus",
     "public_path": "/api/webrtc", "max_viewers": 100, "max_viewers_per_user": 16,
     "answer_timeout": 30, "media_timeout": 10,
     "cameras": ["front", "yard"], "users": {"alice": ["front", "yard"]}}

nginx has checked the app user's password (auth_basic) and passes the user's name in
X-Camgate-User; this service lets a user watch only the cameras `users` lists for them (the same
list the manifest uses: both come from the model's Gateway.cameras_of). The exchange is WHEP's
server-offer form (draft-ietf-wish-whep-00): Janus's streaming plugin makes the offer.

    POST   <public_path>/<camera>           -> 201 Created, Location: <public_path>/<camera>/<viewer>,
                                               body: the SDP offer (application/sdp)
    PATCH  <public_path>/<camera>/<viewer>  body: the SDP answer (application/sdp) -> 204
    DELETE <public_path>/<camera>/<viewer>  -> 204: the viewer is gone
    GET    /status                          viewers per camera and the age of each camera's media in
                                            Janus (loopback only: nginx never maps it; camgate-health reads it)

Errors are JSON {"error": ...}: 401 no user (nginx did not authenticate), 403 not the user's
camera, 404 no such camera or viewer, 409 answer twice, 415 not application/sdp, 429 too many
viewers, 503 the camera has sent no media for `media_timeout` s (Retry-After; play HLS meanwhile)
or Janus is not answering.

Each viewer is one Janus session with one streaming-plugin handle. A thread per viewer keeps the
session alive (Janus drops sessions without a request for 60 s) while the PeerConnection lives, and
destroys it when the browser hangs up, when no answer came within `answer_timeout` s, or on DELETE.
The app never sees Janus's session or handle ids, only an unguessable viewer id.

    camgate-webrtc CONFIG.json
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_SECRET_ENV = "CAMGATE_JANUS_API_SECRET"
KEEPALIVE_EVERY = 20  # seconds; Janus's session_timeout is 60
LONG_POLL = 30  # Janus answers an event long poll after at most 30 s
OFFER_TIMEOUT = 10  # seconds for Janus to make its offer
MAX_SDP = 64 * 1024
CAMERA_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?")
VIEWER_RE = re.compile(r"[A-Za-z0-9_-]{22}")
USER_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")
NO_SUCH_MOUNTPOINT = 455  # JANUS_STREAMING_ERROR_NO_SUCH_MOUNTPOINT


class Refused(Exception):
    """A request the service answers with an error status (and a JSON reason)."""

    def __init__(self, status: int, reason: str, retry_after: int | None = None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after


class Janus:
    """Janus's HTTP API (JSON over plain HTTP on loopback), with its API secret on every request."""

    def __init__(self, base: str, api_secret: str):
        self.base = base.rstrip("/")
        self.api_secret = api_secret

    def request(self, path: str, body: dict, timeout: float = 10) -> dict:
        payload = {**body, "transaction": secrets.token_hex(8), "apisecret": self.api_secret}
        data = json.dumps(payload).encode()
        req = urllib.request.Request(self.base + path, data=data, headers={"Content-Type": "application/json"})
        return self._read(req, timeout)

    def events(self, session: int, timeout: float = LONG_POLL + 5) -> list[dict]:
        """Long poll: up to 10 events of the session, or a keepalive after LONG_POLL s."""
        query = urllib.parse.urlencode({"maxev": 10, "rid": int(time.time() * 1000), "apisecret": self.api_secret})
        reply = self._read(urllib.request.Request(f"{self.base}/{session}?{query}"), timeout)
        return reply if isinstance(reply, list) else [reply]

    def _read(self, req: urllib.request.Request, timeout: float):
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise Refused(503, f"the WebRTC engine (Janus) is not answering: {exc}", retry_after=5) from exc

    def create_session(self) -> int:
        return self._data_id(self.request("", {"janus": "create"}))

    def attach_streaming(self, session: int) -> int:
        return self._data_id(self.request(f"/{session}", {"janus": "attach", "plugin": "janus.plugin.streaming"}))

    def message(self, session: int, handle: int, body: dict, jsep: dict | None = None) -> dict:
        request = {"janus": "message", "body": body, **({"jsep": jsep} if jsep else {})}
        return self.request(f"/{session}/{handle}", request)

    def keepalive(self, session: int) -> bool:
        return self.request(f"/{session}", {"janus": "keepalive"}).get("janus") == "ack"

    def destroy(self, session: int) -> None:
        try:
            self.request(f"/{session}", {"janus": "destroy"}, timeout=5)
        except Refused:
            pass  # Janus gone or restarted: the session is gone with it

    @staticmethod
    def _data_id(reply: dict) -> int:
        if reply.get("janus") != "success":
            raise Refused(503, f"Janus refused: {reply.get('error', reply)}", retry_after=5)
        return int(reply["data"]["id"])


def plugin_data(event: dict) -> dict:
    return ((event.get("plugindata") or {}).get("data")) or {}


def media_age_ms(info: dict) -> int | None:
    """The newest media of a mountpoint, in ms (Janus's per-stream age_ms), None if none ever came."""
    ages = [m["age_ms"] for m in (info.get("media") or []) if isinstance(m.get("age_ms"), int)]
    return min(ages) if ages else None


class Viewer:
    def __init__(self, user: str, camera: str, session: int, handle: int):
        self.id = secrets.token_urlsafe(16)  # 22 characters
        self.user = user
        self.camera = camera
        self.session = session
        self.handle = handle
        self.created = time.monotonic()
        self.answered = False
        self.connected = False
        self.ended = threading.Event()


class Signalling:
    """The viewers and their Janus sessions; one instance per service, shared by the handler threads."""

    def __init__(self, config: dict, janus: Janus):
        self.config = config
        self.janus = janus
        self.viewers: dict[str, Viewer] = {}
        self.lock = threading.Lock()

    def reload(self, config: dict) -> None:
        """New users and cameras apply to new viewers; a viewer whose camera left them is ended."""
        self.config = config
        with self.lock:
            gone = [v for v in self.viewers.values() if v.camera not in config["users"].get(v.user, ())]
        for viewer in gone:
            self.end(viewer)

    def may_watch(self, user: str, camera: str) -> None:
        if not user:
            raise Refused(401, "no app user: this service is reached through nginx, which checks the password")
        if camera not in self.config["users"].get(user, ()):
            raise Refused(403, "this camera is not available to you over WebRTC")

    def offer(self, user: str, camera: str) -> tuple[Viewer, str]:
        self.may_watch(user, camera)
        with self.lock:
            mine = sum(1 for v in self.viewers.values() if v.user == user)
            if len(self.viewers) >= self.config["max_viewers"]:
                raise Refused(429, "the gateway has as many WebRTC viewers as it serves; play HLS instead", retry_after=10)
            if mine >= self.config["max_viewers_per_user"]:
                raise Refused(429, f"{mine} WebRTC viewers open for this user; end one (DELETE) first", retry_after=10)
        session = self.janus.create_session()
        try:
            handle = self.janus.attach_streaming(session)
            self.require_media(session, handle, camera)
            reply = self.janus.message(session, handle, {"request": "watch", "id": camera, "offer_audio": True, "offer_video": True})
            if reply.get("janus") == "error":
                raise Refused(503, f"Janus refused to watch: {reply.get('error')}", retry_after=5)
            sdp = self.wait_for_offer(session, camera)
        except BaseException:
            self.janus.destroy(session)
            raise
        viewer = Viewer(user, camera, session, handle)
        with self.lock:
            self.viewers[viewer.id] = viewer
        threading.Thread(target=self.follow, args=(viewer,), name=f"viewer-{camera}", daemon=True).start()
        return viewer, sdp

    def require_media(self, session: int, handle: int, camera: str) -> None:
        """503 unless the camera's mountpoint exists and got media recently: nothing to watch else."""
        reply = self.janus.message(session, handle, {"request": "info", "id": camera})
        data = plugin_data(reply)
        if data.get("error_code") == NO_SUCH_MOUNTPOINT:
            raise Refused(404, "this camera has no WebRTC stream (webrtc is off for it)")
        if "info" not in data:
            raise Refused(503, f"Janus could not describe the camera's stream: {data.get('error', reply)}", retry_after=5)
        age = media_age_ms(data["info"])
        if age is None or age > self.config["media_timeout"] * 1000:
            waited = "never" if age is None else f"not for {age // 1000} s"
            raise Refused(503, f"the camera's stream has {waited} reached the WebRTC engine; play HLS meanwhile", retry_after=3)

    def wait_for_offer(self, session: int, camera: str) -> str:
        deadline = time.monotonic() + OFFER_TIMEOUT
        while time.monotonic() < deadline:
            for event in self.janus.events(session, timeout=OFFER_TIMEOUT + 5):
                data = plugin_data(event)
                if data.get("error_code") == NO_SUCH_MOUNTPOINT:
                    raise Refused(404, "this camera has no WebRTC stream (webrtc is off for it)")
                if data.get("error"):
                    raise Refused(503, f"Janus refused to watch {camera}: {data['error']}", retry_after=5)
                jsep = event.get("jsep") or {}
                if jsep.get("type") == "offer" and jsep.get("sdp"):
                    return jsep["sdp"]
        raise Refused(503, f"Janus made no offer within {OFFER_TIMEOUT} s", retry_after=5)

    def viewer(self, user: str, camera: str, viewer_id: str) -> Viewer:
        with self.lock:
            viewer = self.viewers.get(viewer_id)
        # Another user's viewer is as unknown as a missing one: ids are not to be probed.
        if viewer is None or viewer.user != user or viewer.camera != camera:
            raise Refused(404, "no such WebRTC viewer (it ended, or timed out before its answer)")
        return viewer

    def answer(self, user: str, camera: str, viewer_id: str, sdp: str) -> None:
        self.may_watch(user, camera)
        viewer = self.viewer(user, camera, viewer_id)
        if viewer.answered:
            raise Refused(409, "this viewer has its answer already; start a new one (POST) to renegotiate")
        # trickle false: the answer carries the app's candidates (it waits for ICE gathering to end).
        reply = self.janus.message(viewer.session, viewer.handle, {"request": "start"}, {"type": "answer", "sdp": sdp, "trickle": False})
        if reply.get("janus") != "ack":
            raise Refused(400, f"the answer was refused: {(reply.get('error') or {}).get('reason', reply)}")
        viewer.answered = True

    def hang_up(self, user: str, camera: str, viewer_id: str) -> None:
        self.may_watch(user, camera)
        self.end(self.viewer(user, camera, viewer_id))

    def end(self, viewer: Viewer) -> None:
        with self.lock:
            self.viewers.pop(viewer.id, None)
        viewer.ended.set()
        self.janus.destroy(viewer.session)

    def follow(self, viewer: Viewer) -> None:
        """Keep the viewer's Janus session alive until the browser hangs up, the answer is overdue,
        or the viewer is ended; then destroy the session."""
        last_keepalive = time.monotonic()
        try:
            while not viewer.ended.is_set():
                if not viewer.answered and time.monotonic() - viewer.created > self.config["answer_timeout"]:
                    return
                try:
                    events = self.janus.events(viewer.session, timeout=min(LONG_POLL, self.config["answer_timeout"]) + 5)
                except Refused:
                    return  # Janus went away, and its sessions with it
                for event in events:
                    kind = event.get("janus")
                    if kind == "webrtcup":
                        viewer.connected = True
                    elif kind in ("hangup", "detached") or (kind == "error" and event.get("error", {}).get("code") == 458):
                        return  # 458: no such session (Janus restarted)
                    elif plugin_data(event).get("result", {}).get("status") == "stopped":
                        return
                if time.monotonic() - last_keepalive >= KEEPALIVE_EVERY:
                    last_keepalive = time.monotonic()
                    try:
                        if not self.janus.keepalive(viewer.session):
                            return
                    except Refused:
                        return
        finally:
            if not viewer.ended.is_set():
                self.end(viewer)

    def status(self) -> dict:
        """Viewers (all, connected, per camera) and, per WebRTC camera, how long ago Janus last got its
        media ({camera: ms}, None when Janus is not answering): what camgate-health judges."""
        with self.lock:
            viewers = list(self.viewers.values())
        per_camera: dict[str, int] = {}
        for viewer in viewers:
            per_camera[viewer.camera] = per_camera.get(viewer.camera, 0) + 1
        return {"viewers": len(viewers), "connected": sum(v.connected for v in viewers), "cameras": per_camera, "media_age_ms": self.media_ages()}

    def media_ages(self) -> dict[str, int | None] | None:
        try:
            session = self.janus.create_session()
        except Refused:
            return None
        try:
            handle = self.janus.attach_streaming(session)
            ages = {}
            for camera in self.config.get("cameras", []):
                info = plugin_data(self.janus.message(session, handle, {"request": "info", "id": camera})).get("info")
                ages[camera] = media_age_ms(info) if info else None
            return ages
        except Refused:
            return None
        finally:
            self.janus.destroy(session)


class Handler(BaseHTTPRequestHandler):
    server_version = "camgate-webrtc"
    sys_version = ""
    signalling: Signalling  # set on the class by serve()

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        # No request lines in the journal: nginx's access log has them (without bodies).
        pass

    def route(self) -> tuple[str, str | None]:
        prefix = self.signalling.config["public_path"].rstrip("/") + "/"
        path = self.path.split("?", 1)[0]
        if not path.startswith(prefix):
            raise Refused(404, "not a WebRTC path")
        parts = path[len(prefix):].split("/")
        if len(parts) > 2 or not CAMERA_RE.fullmatch(parts[0]) or (len(parts) == 2 and not VIEWER_RE.fullmatch(parts[1])):
            raise Refused(404, "not a WebRTC path: use <camera> or <camera>/<viewer>")
        return parts[0], parts[1] if len(parts) == 2 else None

    def user(self) -> str:
        user = self.headers.get("X-Camgate-User", "")
        return user if USER_RE.fullmatch(user) else ""

    def body(self, required_type: str) -> str:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_SDP:
            raise Refused(413, f"the body is larger than {MAX_SDP} bytes")
        data = self.rfile.read(length) if length else b""
        if required_type and (self.headers.get("Content-Type") or "").split(";")[0].strip().lower() != required_type:
            raise Refused(415, f"send the SDP answer as Content-Type: {required_type}")
        return data.decode("utf-8", "replace")

    def do_GET(self):
        if self.path == "/status":
            return self.send(200, json.dumps(self.signalling.status()).encode(), "application/json")
        self.fail(Refused(405, "POST an empty body to start a viewer"))

    def do_POST(self):
        try:
            camera, viewer_id = self.route()
            if viewer_id:
                raise Refused(405, "POST to <camera> starts a viewer; PATCH <camera>/<viewer> sends the answer")
            self.body("")
            viewer, sdp = self.signalling.offer(self.user(), camera)
            location = f"{self.signalling.config['public_path'].rstrip('/')}/{camera}/{viewer.id}"
            self.send(201, sdp.encode(), "application/sdp", {"Location": location})
        except Refused as refused:
            self.fail(refused)

    def do_PATCH(self):
        try:
            camera, viewer_id = self.route()
            if not viewer_id:
                raise Refused(405, "PATCH <camera>/<viewer> (the Location of the POST) with the answer")
            self.signalling.answer(self.user(), camera, viewer_id, self.body("application/sdp"))
            self.send(204, b"")
        except Refused as refused:
            self.fail(refused)

    def do_DELETE(self):
        try:
            camera, viewer_id = self.route()
            if not viewer_id:
                raise Refused(405, "DELETE <camera>/<viewer> ends that viewer")
            self.signalling.hang_up(self.user(), camera, viewer_id)
            self.send(204, b"")
        except Refused as refused:
            self.fail(refused)

    def fail(self, refused: Refused) -> None:
        headers = {"Retry-After": str(refused.retry_after)} if refused.retry_after else {}
        self.send(refused.status, json.dumps({"error": refused.reason}).encode(), "application/json", headers)

    def send(self, status: int, body: bytes, content_type: str | None = None, headers: dict | None = None) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(body)


def read_config(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        config = json.load(handle)
    defaults = {"public_path": "/api/webrtc", "max_viewers": 100, "max_viewers_per_user": 16, "answer_timeout": 30, "media_timeout": 10}
    return {**defaults, **config}


def serve(config_path: str) -> None:
    import signal

    api_secret = os.environ.get(API_SECRET_ENV)
    if not api_secret:
        sys.exit(f"camgate-webrtc: {API_SECRET_ENV} is not set (the unit's EnvironmentFile holds it)")
    config = read_config(config_path)
    signalling = Signalling(config, Janus(config["janus"], api_secret))
    Handler.signalling = signalling
    # SIGHUP (systemctl reload): new users and cameras, without dropping the viewers that stay allowed.
    signal.signal(signal.SIGHUP, lambda *_: signalling.reload(read_config(config_path)))
    host, port = config["listen"]
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    print(f"camgate-webrtc: listening on {host}:{port}, Janus at {config['janus']}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.exit(__doc__.split("\n\n")[-1].strip())
    serve(sys.argv[1])
