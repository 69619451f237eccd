"""The camera manifest the app reads (GET /api/cameras), and the files on the gateway behind it.

nginx's auth_basic checks the app user's password against paths.HTPASSWD (crypt hashes only), then the
njs module paths.NJS_MODULE answers from the catalog built here: which cameras exist, their display names and
which user may see which. The catalog holds no secret; the signing and TURN secrets stay in nginx's
config.
"""

from __future__ import annotations

from typing import Any

from camgate import paths, webrtc
from camgate.ffmpeg import SNAPSHOT_NAME
from camgate.model import Gateway
from camgate.signing import MULTIVARIANT

# The longest time range one playback playlist may cover.
MAX_PLAYBACK_SECONDS = 24 * 3600


def catalog(gateway: Gateway) -> dict[str, Any]:
    return {
        "base_url": gateway.base_url,
        # With caching edges, stream URLs name one of them (docs/edges.md); the API stays here.
        "edges": [edge.base_url for edge in gateway.edges],
        "edge_choice": gateway.edge_choice,
        "ttl": gateway.url_ttl,
        "recordings_root": gateway.recordings_root,
        "hls_root": gateway.hls_root,
        "health_file": paths.HEALTH_STATUS_FILE,
        "multivariant": MULTIVARIANT,
        "snapshot": SNAPSHOT_NAME,
        "max_playback": MAX_PLAYBACK_SECONDS,
        "cameras": {
            c.id: {
                "name": c.name, "encrypted": c.encrypt, "record": c.record, "hls_time": c.hls_time, "snapshot": c.snapshot,
                "webrtc": c.webrtc != "off",
            }  # fmt: skip
            for c in gateway.enabled_cameras
        },
        # WebRTC: the signalling path per camera, and the ICE servers each user gets TURN credentials for.
        "webrtc_path": paths.WEBRTC_PUBLIC_PATH,
        "ice_urls": webrtc.ice_server_urls(gateway) if gateway.webrtc_cameras else [],
        "users": {u.name: [c.id for c in gateway.cameras_of(u)] for u in gateway.app_users},
    }
