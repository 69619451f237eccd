"""WebRTC, decided on the operator side: which camera feeds camgate-webrtc on which loopback ports,
the service's settings and the ICE servers the app is handed.

The camera's unit (ffmpeg, one RTSP pull) also sends the camera's video, copied, as RTP to a
loopback port of camgate-webrtc, and its audio as the WebRTC codec chosen (webrtc_audio); the
service (GStreamer's webrtcbin) relays both to every viewer (docs/architecture.md, "WebRTC").
"""

from __future__ import annotations

import zlib

from camgate import paths
from camgate.model import Camera, Gateway, parse_port_range

# Loopback RTP ports ffmpeg sends to and camgate-webrtc listens on: 4 per camera (video, its RTCP, audio, its
# RTCP) from RTP_PORT_BASE, in RTP_PORT_SLOTS slots. A camera's slot comes from its id; a taken slot
# goes to the next free one in inventory order, so adding a camera never moves another's ports
# (which would restart its unit).
RTP_PORT_BASE = 30000
RTP_PORT_SLOTS = 2500
RTP_HOST = "127.0.0.1"
RTP_PACKET_SIZE = 1200  # bytes: room for SRTP and header extensions within a 1500-byte MTU
VIDEO_PT = 96
# webrtc_audio -> the RTP payload type ffmpeg sends it with (camgate/gateway/webrtc.py's AUDIO caps);
# each viewer gets the payload type its own offer gave the codec.
AUDIO_PAYLOAD_TYPES = {"opus": 111, "pcma": 8, "pcmu": 0}
OPUS_ARGS = ["-c:a", "libopus", "-ac", "1", "-ar", "48000", "-b:a", "32k", "-application", "voip"]
CONNECT_TIMEOUT = 30  # seconds a viewer may take to connect after its answer
VIEWER_TIMEOUT = 10  # seconds without RTCP from a connected player before it counts as vanished
MEDIA_TIMEOUT = 10  # seconds without media from the camera before a new viewer gets 409


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


def port_range(value: str) -> tuple[int, int]:
    found = parse_port_range(value)
    assert found, value  # validated by the model
    return found


def engine_config(gateway: Gateway) -> dict:
    """camgate/gateway/webrtc.py's settings: each WebRTC camera's loopback RTP ports and audio codec,
    the users and the WebRTC cameras each may watch, the quotas and the ICE ports and servers."""
    ports = rtp_ports(gateway)
    cameras = {}
    for camera in gateway.webrtc_cameras:
        codec = audio_codec(camera)
        cameras[camera.id] = {"video_port": ports[camera.id], "audio": {"port": ports[camera.id] + 2, "codec": codec} if codec else None}
    return {
        "listen": ["127.0.0.1", paths.WEBRTC_PORT],
        "public_path": paths.WEBRTC_PUBLIC_PATH,
        "max_viewers": gateway.webrtc_max_viewers,
        "max_viewers_per_user": gateway.webrtc_max_viewers_per_user,
        "media_timeout": MEDIA_TIMEOUT,
        "connect_timeout": CONNECT_TIMEOUT,
        "viewer_timeout": VIEWER_TIMEOUT,
        "ice_ports": list(port_range(gateway.webrtc_ports)),
        "ice_urls": ice_server_urls(gateway),
        "ttl": gateway.url_ttl,
        "cameras": cameras,
        "users": {user.name: [c.id for c in gateway.cameras_of(user) if c.id in cameras] for user in gateway.app_users},
    }


def ice_server_urls(gateway: Gateway) -> list[str]:
    """What the app puts in RTCConfiguration.iceServers (with the user's TURN credentials): STUN and
    TURN over UDP and TCP on turn_port, TURN over TLS on turns_port when the gateway has TLS."""
    host = gateway.domain
    urls = [f"stun:{host}:{gateway.turn_port}", f"turn:{host}:{gateway.turn_port}?transport=udp", f"turn:{host}:{gateway.turn_port}?transport=tcp"]
    if gateway.https:
        urls.append(f"turns:{host}:{gateway.turns_port}?transport=tcp")
    return urls
