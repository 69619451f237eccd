"""Signed, expiring stream URLs: the scheme nginx's secure_link checks, and the ways to get the secret.

A stream URL is ``https://<domain>/s/<token>/<expires>/<camera>/stream.m3u8`` with
``token = base64url(md5("<expires>/<camera> <secret>"))`` (no padding) and ``expires`` in Unix
seconds. The token covers the camera, not the file, so the relative segment and key URLs inside the
playlist inherit it: iOS AVPlayer drops query strings and headers on segment requests, a path token
survives. The njs manifest on the gateway (templates/nginx/camgate/camgate.js.j2) computes the same.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from camgate.model import Camera, Gateway

PLAYLIST = "stream.m3u8"  # a camera's media playlist (ffmpeg writes it)
MULTIVARIANT = "index.m3u8"  # its multivariant playlist, the URL apps get (the gateway serves it from health)
# The secret lives on the gateway in paths.LINK_SECRET_CONF (0600 root), generated once by the
# deploy unless the inventory names one in the secrets store (url_secret_ref).
LINK_SECRET_LINE_RE = re.compile(r'^set \$camgate_link_secret "([A-Za-z0-9_-]{24,128})";$', re.M)


def link_token(secret: str, camera_id: str, expires: int) -> str:
    digest = hashlib.md5(f"{expires}/{camera_id} {secret}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def signed_path(secret: str, camera_id: str, expires: int, file: str = PLAYLIST) -> str:
    return f"/s/{link_token(secret, camera_id, expires)}/{expires}/{camera_id}/{file}"


def signed_url(
    gateway: Gateway, camera: Camera, secret: str, ttl: int | None = None, now: float | None = None, base_url: str | None = None
) -> tuple[str, int]:
    """(URL of the camera's live multivariant playlist, valid until), for `ttl` seconds (default:
    url_ttl), at the gateway or at `base_url` (one of its caching edges, which check the same URLs)."""
    expires = int(now if now is not None else time.time()) + (ttl if ttl is not None else gateway.url_ttl)
    return (base_url or gateway.base_url) + signed_path(secret, camera.id, expires, MULTIVARIANT), expires


def parse_link_secret_conf(text: str) -> str | None:
    match = LINK_SECRET_LINE_RE.search(text)
    return match.group(1) if match else None

