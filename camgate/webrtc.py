"""WebRTC, decided on the operator side: which camera feeds Janus on which loopback ports, Janus's
mountpoints, the signalling service's settings and the ICE servers the app is handed.

The camera's unit (ffmpeg, one RTSP pull) also sends the camera's video, copied, as RTP to a
loopback port of Janus's streaming plugin, and its audio as the WebRTC codec chosen (webrtc_audio);
Janus relays both to every viewer (docs/architecture.md, "WebRTC").
"""

from __future__ import annotations

import zlib

from camgate import paths
from camgate.model import Camera, Gateway, parse_port_range

# Loopback RTP ports ffmpeg sends to and Janus listens on: 4 per camera (video, its RTCP, audio, its
# RTCP) from RTP_PORT_BASE, in RTP_PORT_SLOTS slots. A camera's slot comes from its id; a taken slot
# goes to the next free one in inventory order, so adding a camera never moves another's ports
# (which would restart its unit).
RTP_PORT_BASE = 30000
RTP_PORT_SLOTS = 2500
RTP_HOST = "127.0.0.1"
RTP_PACKET_SIZE = 1200  # bytes: room for SRTP and header extensions within a 1500-byte MTU
VIDEO_PT = 96
# Constrained baseline level 3.1 with asymmetric levels allowed: what every browser and phone
# answers to; they decode Main and High sent under it as well (cameras' usual profiles).
H264_FMTP = "profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1"
# webrtc_audio -> (RTP payload type, Janus codec name); PCMA and PCMU have static payload types.
AUDIO_CODECS = {"opus": (111, "opus"), "pcma": (8, "pcma"), "pcmu": (0, "pcmu")}
OPUS_ARGS = ["-c:a", "libopus", "-ac", "1", "-ar", "48000", "-b:a", "32k", "-application", "voip"]
KEEPALIVE_SESSION_TIMEOUT = 60  # Janus's session_timeout; the signalling service pings every 20 s
ANSWER_TIMEOUT = 30  # seconds a viewer may take to send its answer
MEDIA_TIMEOUT = 10  # seconds without media from the camera before a new viewer gets 503


# Janus modules camgate never loads (Janus has no "load only" setting): every plugin but the
# streaming one, every transport but HTTP, every logger and event handler the packages ship.
JANUS_DISABLED = {
    "plugins": ("audiobridge", "duktape", "echotest", "lua", "nosip", "recordplay", "sip", "textroom", "videocall", "videoroom", "voicemail"),
    "transports": ("mqtt", "nanomsg", "pfunix", "rabbitmq", "websockets"),
    "loggers": ("jsonlog",),
    "events": ("gelfevh", "mqttevh", "nanomsgevh", "rabbitmqevh", "sampleevh", "wsevh"),
}


def janus_disabled(kind: str) -> list[str]:
    return [f"libjanus_{name}.so" for name in JANUS_DISABLED[kind]]


def rtp_ports(gateway: Gateway) -> dict[str, int]:
    """Camera id -> its first loopback RTP port (video; audio is +2)."""
    taken: set[int] = set()
    ports: dict[str, int] = {}
    for camera in gateway.webrtc_cameras:
        slot = zlib.crc32(camera.id.encode()) % RTP_PORT_SLOTS
        while slot in taken:
            slot = (slot + 1) % RTP_PORT_SLOTS
        taken.add(slot)
        ports[camera.id] = RTP_PORT_BASE + 4 * slot
    return ports


def audio_codec(camera: Camera) -> str | None:
    """The camera's WebRTC audio codec, or None: audio='none' drops audio everywhere, and a transcoded
    camera's WebRTC output shares the video encoder only (its audio would need an output of its own)."""
    if camera.webrtc_audio == "none" or camera.audio == "none" or camera.video == "transcode":
        return None
    return camera.webrtc_audio


def audio_args(camera: Camera) -> list[str]:
    codec = audio_codec(camera)
    if codec is None:
        return []
    # G.711 copied from the first packet, as camgate.ffmpeg.AUDIO_COPY_ARGS says why (ffmpeg 7.1).
    return list(OPUS_ARGS) if codec == "opus" else ["-c:a", "copy", "-copyinkf:a"]


def mountpoints(gateway: Gateway) -> list[dict]:
    """Janus streaming-plugin mountpoints, one per WebRTC camera, named by the camera id."""
    ports = rtp_ports(gateway)
    found = []
    for camera in gateway.webrtc_cameras:
        codec = audio_codec(camera)
        mountpoint = {
            "id": camera.id, "description": camera.name, "video_port": ports[camera.id], "video_pt": VIDEO_PT, "fmtp": H264_FMTP,
            "audio_port": None, "audio_pt": None, "audio_codec": None,
        }  # fmt: skip
        if codec:
            mountpoint.update(audio_port=ports[camera.id] + 2, audio_pt=AUDIO_CODECS[codec][0], audio_codec=AUDIO_CODECS[codec][1])
        found.append(mountpoint)
    return found


def port_range(value: str) -> tuple[int, int]:
    found = parse_port_range(value)
    assert found, value  # validated by the model
    return found


def signalling_config(gateway: Gateway) -> dict:
    """camgate/gateway/webrtc.py's settings: the users and the WebRTC cameras each may watch."""
    webrtc = {c.id for c in gateway.webrtc_cameras}
    return {
        "listen": ["127.0.0.1", paths.WEBRTC_PORT],
        "janus": f"http://127.0.0.1:{paths.JANUS_HTTP_PORT}/janus",
        "public_path": paths.WEBRTC_PUBLIC_PATH,
        "max_viewers": gateway.webrtc_max_viewers,
        "max_viewers_per_user": gateway.webrtc_max_viewers_per_user,
        "answer_timeout": ANSWER_TIMEOUT,
        "media_timeout": MEDIA_TIMEOUT,
        "cameras": sorted(webrtc),
        "users": {user.name: [c.id for c in gateway.cameras_of(user) if c.id in webrtc] for user in gateway.app_users},
    }


def ice_server_urls(gateway: Gateway) -> list[str]:
    """What the app puts in RTCConfiguration.iceServers (with the user's TURN credentials): STUN and
    TURN over UDP and TCP on turn_port, TURN over TLS on turns_port when the gateway has TLS."""
    host = gateway.domain
    urls = [f"stun:{host}:{gateway.turn_port}", f"turn:{host}:{gateway.turn_port}?transport=udp", f"turn:{host}:{gateway.turn_port}?transport=tcp"]
    if gateway.https:
        urls.append(f"turns:{host}:{gateway.turns_port}?transport=tcp")
    return urls
