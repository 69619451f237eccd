"""Caching edges (docs/edges.md), worked out on the machine running pyinfra: which edge the manifest
hands out, how long an edge may keep each kind of file, and the files that carry the secrets.

An edge checks a viewer's signed URL itself (it holds each gateway's URL secret), then fetches
``/o/<camera>/<file>`` from the gateway's origin port with its own credential. Its cache key is the
gateway, camera and file, never the token, so every viewer of a camera shares one copy.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from camgate.model import Edge, Gateway


@dataclass(frozen=True)
class Lifetimes:
    """Seconds an edge keeps each kind of file (the gateway sends them as X-Accel-Expires)."""

    playlist: int  # live and VOD playlists, the init section, the snapshot: nginx's smallest, a second
    segment: int  # a live segment never changes once listed, and its name is never reused
    key: int  # an AES-128 key, no longer than the gateway keeps rotating them
    recording: int  # a finished recording file; retention deletes it on the gateway


def lifetimes(gateway: Gateway) -> Lifetimes:
    return Lifetimes(playlist=1, segment=60, key=min(60, gateway.hls_key_rotation), recording=600)


def choose_edge(edges: tuple[Edge, ...] | list[Edge], key: str) -> Edge:
    """The edge for a user name or camera id: stable, and spread evenly over the edges in declared
    order (the manifest's njs computes the same: md5 of the key, first 8 hex digits, modulo)."""
    return edges[int(hashlib.md5(key.encode()).hexdigest()[:8], 16) % len(edges)]


def stream_base_url(gateway: Gateway, camera_id: str, user: str | None = None) -> str:
    """Where the manifest sends a viewer for a camera: the gateway without edges, else the edge
    chosen for the camera or for the app user (edge_choice), as the gateway's njs chooses it."""
    if not gateway.edges:
        return gateway.base_url
    if gateway.edge_choice == "user":
        if user is None:
            raise ValueError("edge_choice is 'user': the edge depends on the app user")
        return choose_edge(gateway.edges, user).base_url
    return choose_edge(gateway.edges, camera_id).base_url
