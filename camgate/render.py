"""Render the files that land on a gateway from templates/ (the roles and the unit tests share this).

Rendering happens on the machine running pyinfra: the roles upload the result, so template
variables never show up in pyinfra's operation labels and camgate's own filters are available.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import jinja2

from camgate import manifest, paths, restarts, tls, webrtc
from camgate.edge import lifetimes
from camgate.ffmpeg import camera_args
from camgate.gateway import health
from camgate.model import Camera, Edge, Gateway, Stream
from camgate.secrets import resolve_secret
from camgate.units import parse_size

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = PROJECT_ROOT / "templates"


def systemd_arg(value: object) -> str:
    """Quote one ExecStart= argument: '%' and '$' are systemd specifiers, so they are doubled."""
    text = str(value).replace("%", "%%").replace("$", "$$")
    if text and not any(ch in text for ch in " \t\"'\\;"):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_text(value: object) -> str:
    """A one-line value such as Description=: systemd expands % specifiers there and nothing else."""
    return str(value).replace("%", "%%")


def nginx_string(value: object) -> str:
    """A double-quoted nginx string (validated values never need more than this)."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"').replace("$", "${dollar}") + '"'


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters.update(systemd_arg=systemd_arg, systemd_text=systemd_text, nginx_string=nginx_string)
    env.globals["paths"] = paths  # every template names gateway paths and units as paths.NAME
    return env


def render(template: str, **context: object) -> str:
    return environment().get_template(template).render(**context)


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def render_camera_unit(gateway: Gateway, camera: Camera, ffmpeg_major: int, stream: Stream | None = None) -> str:
    """The unit of one of the camera's streams (default: its main stream); only the main one records."""
    stream = stream or camera.streams[0]
    hls_dir = gateway.hls_dir(stream)
    recordings_dir = gateway.recordings_dir(camera) if camera.record and stream.main else None
    webrtc_port = webrtc.rtp_ports(gateway)[camera.id] if camera.webrtc_stream == stream else None
    return render(
        "systemd/camgate-camera.service.j2",
        camera=camera,
        stream=stream,
        hls_dir=hls_dir,
        runtime_directory=hls_dir.removeprefix("/run/"),
        credentials_path=paths.credentials_path(stream.id),
        recordings_dir=recordings_dir,
        argv=camera_args(camera, hls_dir, ffmpeg_major, recordings_dir, snapshot=camera.snapshot and stream.main, webrtc_port=webrtc_port),
        restart_sec=restarts.RESTART_SEC,
        backoff=restarts.BACKOFF,
    )


def render_nginx_site(gateway: Gateway, nginx_version: tuple[int, int, int]) -> str:
    return render(
        "nginx/camgate.conf.j2",
        gateway=gateway,
        ciphers=tls.MOZILLA_INTERMEDIATE_CIPHERS,
        hsts=tls.HSTS,
        http2_style=tls.nginx_http2_style(nginx_version),
        edge_expires=lifetimes(gateway),
    )


def render_manifest_module(gateway: Gateway) -> str:
    return render(
        "nginx/camgate/camgate.js.j2",
        catalog=manifest.catalog(gateway),
        stale_segments=health.STALE_SEGMENTS,
        stale_grace=health.STALE_GRACE,
    )


def render_htpasswd(users: list[tuple[str, str]]) -> str:
    """`name:hash` lines; the hashes come from the secrets store, never from the inventory."""
    return render("nginx/camgate/app-users.htpasswd.j2", users=users)


def render_turnserver_conf(gateway: Gateway, allowed_peers: list[str]) -> str:
    """/etc/turnserver.conf: coturn relaying to `allowed_peers` (the gateway's own addresses) only."""
    return render(
        "turnserver.conf.j2",
        gateway=gateway,
        credentials_dir=f"/run/credentials/{paths.COTURN_SERVICE}",
        relay_ports=webrtc.port_range(gateway.turn_relay_ports),
        allowed_peers=allowed_peers,
        user_quota=gateway.webrtc_max_viewers_per_user * 2,
        total_quota=gateway.webrtc_max_viewers * 2,
    )


def render_edge_keys(gateway: Gateway) -> str:
    """The gateway's map from an edge's credential to the edge's name (0600 root: it holds them)."""
    edges = [(edge.host, resolve_secret(edge.secret_ref, edge.secrets_file)) for edge in gateway.edges]
    return render("nginx/camgate/edge-keys.conf.j2", edges=edges)


def render_edge_secrets(edge: Edge) -> str:
    """The edge's URL secret per camera (its gateway's) and its own credential (0600 root)."""
    url_secrets = {
        camera: resolve_secret(origin.url_secret_ref, origin.secrets_file) for origin in edge.origins for camera in origin.cameras
    }
    credential = resolve_secret(edge.secret_ref, edge.secrets_file)
    return render("nginx/camgate/edge-secrets.conf.j2", url_secrets=url_secrets, credential=credential)


def render_edge_site(edge: Edge, nginx_version: tuple[int, int, int]) -> str:
    return render(
        "nginx/camgate-edge.conf.j2",
        edge=edge,
        ciphers=tls.MOZILLA_INTERMEDIATE_CIPHERS,
        hsts=tls.HSTS,
        http2_style=tls.nginx_http2_style(nginx_version),
        trusted=paths.EDGE_ORIGIN_CA if edge.origin_ca else paths.SYSTEM_CAS,
        cache_max_mb=max(1, (parse_size(edge.cache_max_size) or 0) // 2**20),
    )


