"""WHEP (draft-ietf-wish-whep-04) for camgate-webrtc: who may watch, what an offer must hold, and the
HTTP exchange, apart from the WebRTC engine that answers (camgate/gateway/webrtc.py). Runs on the
gateway; standard library only, uploaded beside camgate-webrtc as camgate_whep.py.

    POST   <public_path>/<camera>           Content-Type: application/sdp, body: the player's offer
                                            -> 201, body: the answer (all candidates, no trickle needed),
                                               Location: <public_path>/<camera>/<viewer>,
                                               Link: <turn:...>; rel="ice-server"; username=...; credential=...
    PATCH  <public_path>/<camera>/<viewer>  Content-Type: application/trickle-ice-sdpfrag -> 204
                                            (an ICE restart -> 422: POST a new offer instead)
    DELETE <public_path>/<camera>/<viewer>  -> 200: the viewer is gone
    GET, HEAD, OPTIONS                      as the draft says (2xx, no content; Accept-Post)

Who: nginx has either checked the app user's password (HTTP Basic, as for the manifest) and passes
the name in X-Camgate-User, or passed `Authorization: Bearer <token>` through: the token the manifest
hands the user (webrtc_token), "<expires>.<signature>.<user>", an HMAC-SHA256 under the gateway's
TURN secret that nginx's manifest code makes the same way (templates/nginx/camgate/camgate.js.j2).
A user watches only the cameras the inventory gives them (Gateway.cameras_of), up to
max_viewers_per_user viewers at once, and the gateway serves max_viewers in all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

MAX_SDP = 64 * 1024
CAMERA_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?")
VIEWER_RE = re.compile(r"[A-Za-z0-9_-]{22}")
USER_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")
SDP = "application/sdp"
TRICKLE = "application/trickle-ice-sdpfrag"
TOKEN_LABEL = "camgate-whep"  # keeps a WHEP token from ever equalling a TURN credential of the same secret
# Packetization mode 1 (FU-A, STAP-A) is what every browser and phone offers and what the engine sends.
H264_PACKETIZATION = "packetization-mode=1"
AUDIO_ENCODINGS = {"opus": "opus/48000", "pcma": "pcma/8000", "pcmu": "pcmu/8000"}


class Refused(Exception):
    """A request answered with an error status and a JSON reason."""

    def __init__(self, status: int, reason: str, retry_after: int | None = None, headers: dict | None = None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after
        self.headers = headers or {}


def sign_token(secret: str, user: str, expires: int) -> str:
    """The Bearer token for `user` until `expires` (Unix seconds)."""
    mac = hmac.new(secret.encode(), f"{TOKEN_LABEL}:{expires}:{user}".encode(), hashlib.sha256).digest()
    return f"{expires}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}.{user}"


INVALID_TOKEN = {"WWW-Authenticate": 'Bearer realm="camgate", error="invalid_token"'}  # RFC 6750 3.1


def user_of_token(secret: str, token: str, now: float | None = None) -> str:
    """The user a valid, unexpired token names; Refused(401) otherwise."""
    expires, _, rest = token.partition(".")
    _, _, user = rest.partition(".")
    if not (expires.isdigit() and USER_RE.fullmatch(user)):
        raise Refused(401, "the Bearer token is not a camgate WebRTC token (take webrtc_token from the manifest)", headers=INVALID_TOKEN)
    if not hmac.compare_digest(sign_token(secret, user, int(expires)), token):
        raise Refused(401, "the Bearer token's signature does not match (fetch the manifest again)", headers=INVALID_TOKEN)
    if int(expires) < (time.time() if now is None else now):
        raise Refused(401, "the Bearer token has expired: fetch the manifest again for a new one", headers=INVALID_TOKEN)
    return user


def turn_credentials(secret: str, user: str, expires: int) -> tuple[str, str]:
    """The TURN REST scheme coturn checks (use-auth-secret): "<expires>:<user>", base64 HMAC-SHA1."""
    username = f"{expires}:{user}"
    return username, base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()


def ice_server_links(urls: list[str], username: str, credential: str) -> list[str]:
    """WHEP's ICE-server Link header values (RFC 9725 4.6), one per URL."""
    return [f'<{url}>; rel="ice-server"; username="{username}"; credential="{credential}"; credential-type="password"' for url in urls]


@dataclass
class Media:
    """One m-line of an offer, as far as the engine needs it."""

    index: int
    kind: str  # "video", "audio", anything else
    mid: str | None
    direction: str
    payloads: dict[int, str] = field(default_factory=dict)  # payload type -> "h264/90000"
    fmtp: dict[int, str] = field(default_factory=dict)

    def receives(self) -> bool:
        return self.direction in ("recvonly", "sendrecv")

    def h264_payload(self) -> int | None:
        """The offer's H.264 payload type in packetization mode 1, constrained baseline preferred."""
        found = [pt for pt, name in self.payloads.items() if name == "h264/90000" and H264_PACKETIZATION in self.fmtp.get(pt, "")]
        baseline = [pt for pt in found if "profile-level-id=42e0" in self.fmtp.get(pt, "").lower()]
        return (baseline or found or [None])[0]

    def audio_payload(self, codec: str) -> int | None:
        wanted = AUDIO_ENCODINGS[codec]
        return next((pt for pt, name in self.payloads.items() if name.startswith(wanted)), None)


@dataclass
class Offer:
    sdp: str
    media: list[Media]

    def video(self) -> Media:
        return next(m for m in self.media if m.kind == "video" and m.receives())

    def audio(self) -> Media | None:
        return next((m for m in self.media if m.kind == "audio" and m.receives()), None)


def parse_offer(text: str) -> Offer:
    """The player's SDP offer, checked for what a viewer of a camera needs; Refused(400/422) if not."""
    lines = [line.rstrip("\r") for line in text.split("\n") if line.strip()]
    if not lines or lines[0] != "v=0" or not any(line.startswith("o=") for line in lines):
        raise Refused(400, "the body is not an SDP offer (it must start with v=0 and have an o= line)")
    media: list[Media] = []
    session_direction = "sendrecv"
    for line in lines:
        if len(line) < 2 or line[1] != "=":
            raise Refused(400, f"malformed SDP line {line[:40]!r}: every line is <letter>=<value>")
        if line.startswith("m="):
            parts = line[2:].split()
            if len(parts) < 4:
                raise Refused(400, f"malformed SDP media line {line[:60]!r}")
            media.append(Media(len(media), parts[0], None, session_direction))
        elif line.startswith("a="):
            name, _, value = line[2:].partition(":")
            target = media[-1] if media else None
            if name in ("sendrecv", "sendonly", "recvonly", "inactive"):
                if target is None:
                    session_direction = name
                else:
                    target.direction = name
            elif target is not None and name == "mid":
                target.mid = value
            elif target is not None and name in ("rtpmap", "fmtp"):
                pt, _, rest = value.partition(" ")
                if not pt.isdigit():
                    raise Refused(400, f"malformed a={name} line {line[:60]!r}")
                if name == "rtpmap":
                    target.payloads[int(pt)] = rest.strip().lower()
                else:
                    target.fmtp[int(pt)] = rest.strip()
    if not media:
        raise Refused(400, "the SDP offer has no media (m=) line: add a recvonly video transceiver")
    offer = Offer(text, media)
    try:
        video = offer.video()
    except StopIteration:
        raise Refused(422, "the offer receives no video: add a video transceiver (recvonly); camgate serves no audio-only view") from None
    if video.h264_payload() is None:
        raise Refused(422, "the offer has no H.264 (packetization-mode=1): cameras are relayed as they send them, "
                           "in H.264; this player cannot decode them over WebRTC (play the HLS url instead)")  # fmt: skip
    return offer


def trickle_candidates(fragment: str) -> tuple[list[tuple[str | None, str]], str | None]:
    """(mid, candidate line) pairs of a trickle-ice-sdpfrag PATCH (RFC 8840), and its ice-ufrag if it
    names one (a new one means an ICE restart)."""
    candidates: list[tuple[str | None, str]] = []
    mid: str | None = None
    ufrag = None
    for line in fragment.replace("\r", "").split("\n"):
        if line.startswith("a=mid:"):
            mid = line[6:].strip()
        elif line.startswith("a=ice-ufrag:"):
            ufrag = line[12:].strip()
        elif line.startswith("a=candidate:"):
            candidates.append((mid, line[2:].strip()))
    return candidates, ufrag


@dataclass
class Rules:
    """Who may watch what, and how many; from the service's config (camgate.webrtc.engine_config)."""

    config: dict
    turn_secret: str

    def user(self, basic_user: str, authorization: str) -> str:
        """The app user of a request: nginx's X-Camgate-User (password checked) or a Bearer token."""
        if basic_user and USER_RE.fullmatch(basic_user):
            return basic_user
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return user_of_token(self.turn_secret, token.strip())
        raise Refused(401, "authenticate: Authorization: Bearer <webrtc_token from the manifest>, or the app user's password",
                      headers={"WWW-Authenticate": 'Bearer realm="camgate"'})  # fmt: skip

    def may_watch(self, user: str, camera: str) -> None:
        if camera not in self.config["cameras"]:
            raise Refused(404, "no such WebRTC camera (it is not in the inventory, or its webrtc is off)")
        if camera not in self.config["users"].get(user, ()):
            raise Refused(403, "this camera is not available to you over WebRTC")

    def room_for(self, user: str, open_viewers: list[str]) -> None:
        """Refused(429) when the gateway or this user has as many viewers as allowed."""
        if len(open_viewers) >= self.config["max_viewers"]:
            raise Refused(429, "the gateway has as many WebRTC viewers as it serves; play HLS instead", retry_after=10)
        mine = sum(1 for u in open_viewers if u == user)
        if mine >= self.config["max_viewers_per_user"]:
            raise Refused(429, f"{mine} WebRTC viewers open for this user; end one (DELETE) first", retry_after=10)

    def ice_links(self, user: str, expires: int | None = None) -> list[str]:
        urls = self.config.get("ice_urls") or []
        if not urls:
            return []
        username, credential = turn_credentials(self.turn_secret, user, expires or int(time.time()) + self.config.get("ttl", 3600))
        return ice_server_links(urls, username, credential)


class Handler(BaseHTTPRequestHandler):
    """WHEP over HTTP; `service` (set on the class by camgate-webrtc) has rules, viewers and the engine:
    service.start(user, camera, offer) -> (viewer id, answer), service.trickle(user, camera, id, candidates),
    service.end(user, camera, id), service.status()."""

    server_version = "camgate-webrtc"
    sys_version = ""
    service = None

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # nginx's access log has the requests

    def route(self) -> tuple[str, str | None]:
        prefix = self.service.config["public_path"].rstrip("/") + "/"
        path = self.path.split("?", 1)[0]
        parts = path[len(prefix):].split("/") if path.startswith(prefix) else []
        if not parts or len(parts) > 2 or not CAMERA_RE.fullmatch(parts[0]) or (len(parts) == 2 and not VIEWER_RE.fullmatch(parts[1])):
            raise Refused(404, "not a WHEP path: use <camera> (the endpoint) or <camera>/<viewer> (a session)")
        return parts[0], parts[1] if len(parts) == 2 else None

    def user(self) -> str:
        return self.service.rules.user(self.headers.get("X-Camgate-User", ""), self.headers.get("Authorization", ""))

    def body(self) -> str:
        """The request's body, read before any refusal so that the player hears it."""
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_SDP:
            raise Refused(413, f"the body is larger than {MAX_SDP} bytes")
        return (self.rfile.read(length) if length else b"").decode("utf-8", "replace")

    def require_type(self, *types: str) -> None:
        if (self.headers.get("Content-Type") or "").split(";")[0].strip().lower() not in types:
            raise Refused(415, f"send the body as Content-Type: {' or '.join(types)}")

    def handle_errors(self, action) -> None:
        try:
            action()
        except Refused as refused:
            headers = dict(refused.headers)
            if refused.retry_after:
                headers["Retry-After"] = str(refused.retry_after)
            self.send(refused.status, json.dumps({"error": refused.reason}).encode(), "application/json", headers)

    def do_POST(self):
        def post():
            camera, viewer = self.route()
            if viewer:
                raise Refused(405, "POST goes to the camera's endpoint; a session takes PATCH and DELETE", headers={"Allow": "PATCH, DELETE, GET, HEAD, OPTIONS"})
            text = self.body()
            user = self.user()
            self.require_type(SDP)
            if not text.strip():
                raise Refused(400, "POST the player's SDP offer (WHEP); camgate no longer makes the offer itself: docs/app.md")
            viewer_id, answer = self.service.start(user, camera, parse_offer(text))
            location = f"{self.service.config['public_path'].rstrip('/')}/{camera}/{viewer_id}"
            self.send(201, answer.encode(), SDP, {"Location": location}, links=self.service.rules.ice_links(user))

        self.handle_errors(post)

    def do_PATCH(self):
        def patch():
            camera, viewer = self.route()
            if not viewer:
                raise Refused(405, "PATCH goes to a session (the Location of the POST)", headers={"Allow": "POST, GET, HEAD, OPTIONS"})
            fragment = self.body()
            user = self.user()
            if self.headers.get("If-Match"):
                raise Refused(422, "ICE restart is not supported: POST a new offer (docs/app.md, reconnecting)")
            self.require_type(TRICKLE)
            candidates, ufrag = trickle_candidates(fragment)
            self.service.trickle(user, camera, viewer, candidates, ufrag)
            self.send(204, b"")

        self.handle_errors(patch)

    def do_DELETE(self):
        def delete():
            camera, viewer = self.route()
            if not viewer:
                raise Refused(405, "DELETE ends a session (the Location of the POST)", headers={"Allow": "POST, GET, HEAD, OPTIONS"})
            self.service.end(self.user(), camera, viewer)
            self.send(200, b"")

        self.handle_errors(delete)

    def do_GET(self):
        if self.path == "/status":
            return self.send(200, json.dumps(self.service.status()).encode(), "application/json")
        self.handle_errors(lambda: (self.route(), self.send(204, b"")))

    def do_HEAD(self):
        self.handle_errors(lambda: (self.route(), self.send(200, b"", SDP)))

    def do_OPTIONS(self):
        self.handle_errors(lambda: (self.route(), self.send(204, b"", None, {"Accept-Post": SDP})))

    def do_PUT(self):
        self.handle_errors(lambda: (self.route(), self.fail_method()))

    def fail_method(self):
        raise Refused(405, f"{self.command} is not part of WHEP", headers={"Allow": "POST, PATCH, DELETE, GET, HEAD, OPTIONS"})

    def send(self, status: int, body: bytes, content_type: str | None = None, headers: dict | None = None, links: list[str] = ()) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        for link in links:
            self.send_header("Link", link)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)
