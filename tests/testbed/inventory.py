"""Turn a running testbed (see tests.testbed) into gateway declarations for inventory/testbed.py."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from camgate.inventory import camera, edge, edges_of, gateway
from camgate.model import InventoryError
from tests.testbed.zoo import ZOO_PREFIX, zoo_camera

DEFAULT_STATE_DIR = ".testbed"
ACME_EMAIL = "ops@camgate.test"
# Where tls='provided' expects the site's own certificate on the testbed host (the tests put one there).
PROVIDED_CERTIFICATE = "/etc/ssl/camgate-site/fullchain.pem"
PROVIDED_KEY = "/etc/ssl/camgate-site/privkey.pem"
# A spread of settings across the simulated cameras, so the deploy exercises each code path.
CAMERA_SETTINGS = (
    {"audio": "copy", "hls_time": 1, "record": True, "record_segment": 10, "retention": "1m", "webrtc": "main"},
    {"audio": "aac", "hls_time": 2, "encrypt": True, "record": True, "record_segment": 10, "retention": "1d"},
    {"audio": "none", "hls_time": 1, "hls_list_size": 5, "webrtc": "main"},
)
# Which testbed cameras each app user may see (the testbed makes their passwords); alice also sees
# every zoo camera.
APP_USER_CAMERAS = {"alice": ["cam1", "cam2"], "bob": ["cam3"]}
# WebRTC audio per zoo camera audio codec: G.711 passed through, AAC transcoded to Opus.
ZOO_WEBRTC_AUDIO = {"aac": "opus", "pcm_alaw": "pcma", "pcm_mulaw": "pcmu", None: "none"}


def read_state(state_dir: str | Path) -> dict[str, Any]:
    path = Path(state_dir) / "state.json"
    if not path.is_file():
        raise InventoryError([f"testbed state {str(path)!r} not found; fix: run `camgate testbed up` (or `make demo`) first"])
    return json.loads(path.read_text())


def tls_fields(state: dict[str, Any]) -> dict[str, Any]:
    """With the testbed's ACME server (`testbed up --acme`): Let's Encrypt mode against pebble for the
    testbed's DNS name; without: a self-signed certificate for the host's address, which plays from
    this machine as it is. $CAMGATE_TESTBED_TLS (letsencrypt, selfsigned, provided, off) and
    $CAMGATE_TESTBED_ALT_DOMAINS override."""
    acme = state.get("acme")
    mode = os.environ.get("CAMGATE_TESTBED_TLS") or ("letsencrypt" if acme else "selfsigned")
    fields: dict[str, Any] = {"tls": mode, "domain": state["domain"] if acme else state["target_address"]}
    alt = [name for name in os.environ.get("CAMGATE_TESTBED_ALT_DOMAINS", "").split(",") if name]
    if alt:
        fields["alt_domains"] = alt
    if mode == "letsencrypt":
        if not acme:
            raise InventoryError(
                ["testbed: tls='letsencrypt' needs the testbed's ACME server; fix: run `camgate testbed up --acme`"]
            )
        fields.update(acme_email=ACME_EMAIL, acme_server=acme["server"], acme_ca_bundle=acme["ca_bundle"])
    if mode == "provided":
        fields.update(tls_certificate=PROVIDED_CERTIFICATE, tls_key=PROVIDED_KEY)
    return fields


def webrtc_wanted(state: dict[str, Any]) -> bool:
    """$CAMGATE_TESTBED_WEBRTC=on|off; on by default, on every Debian release the testbed runs."""
    return os.environ.get("CAMGATE_TESTBED_WEBRTC", "on") != "off"


def clone_cameras(state: dict[str, Any]) -> list[dict[str, Any]]:
    """$CAMGATE_TESTBED_CLONES=N more cameras reading the testbed's first camera (its RTSP server
    shares one encoder between clients): what the benchmarks scale with. $CAMGATE_TESTBED_CLONE_AUDIO
    (copy, aac), $CAMGATE_TESTBED_CLONE_SNAPSHOT (on, off), $CAMGATE_TESTBED_CLONE_SUB (off, on) and
    $CAMGATE_TESTBED_CLONE_WEBRTC (off, main) set their audio, snapshot, sub stream and WebRTC."""
    count = int(os.environ.get("CAMGATE_TESTBED_CLONES") or 0)
    audio = os.environ.get("CAMGATE_TESTBED_CLONE_AUDIO") or "copy"
    snapshot = (os.environ.get("CAMGATE_TESTBED_CLONE_SNAPSHOT") or "on") != "off"
    source = state["cameras"][0]["url"]
    # $CAMGATE_TESTBED_CLONE_SUB=on: each clone also has a sub stream, the same source again under
    # another URL (the RTSP server ignores the query). A real camera's sub profile is smaller: this is
    # the upper bound of what a sub stream costs.
    sub = {"sub_url": f"{source}?profile=sub"} if os.environ.get("CAMGATE_TESTBED_CLONE_SUB") == "on" else {}
    # $CAMGATE_TESTBED_CLONE_WEBRTC=main: each clone also feeds camgate-webrtc (its AAC as Opus).
    webrtc = os.environ.get("CAMGATE_TESTBED_CLONE_WEBRTC") or "off"
    return [camera(f"clone-{n}", url=source, audio=audio, hls_time=2, snapshot=snapshot, webrtc=webrtc, **sub) for n in range(1, count + 1)]


# Zoo cameras that record (10 s files): one H.264 and one HEVC, for playback in the players.
ZOO_RECORDING = (f"{ZOO_PREFIX}h264-aac", f"{ZOO_PREFIX}h265-aac")


def zoo_settings(cam: dict[str, Any], webrtc: bool = True) -> dict[str, Any]:
    """Inventory fields for a zoo camera from what the zoo says it sends: audio copied when it is
    AAC, transcoded when G.711, none when there is none; segments as long as its keyframe interval;
    its bitrate for `camgate plan`; its sub profile as sub_url; recording for ZOO_RECORDING. Video is copied, except for the
    cameras named in $CAMGATE_TESTBED_ZOO_TRANSCODE (ids, comma-separated): video='transcode'."""
    expect = zoo_camera(cam["id"]).expect
    audio = "none" if expect.audio_codec is None else "copy" if expect.hls_ready_audio else "aac"
    transcode = [c for c in os.environ.get("CAMGATE_TESTBED_ZOO_TRANSCODE", "").split(",") if c]
    settings = {
        "audio": audio,
        "hls_time": min(10, max(1, round(expect.keyframe_interval))),
        "bitrate_kbps": expect.bitrate_kbps,
        "video": "transcode" if cam["id"] in transcode else "copy",
    }
    if cam.get("sub_url"):
        settings["sub_url"] = cam["sub_url"]
    # WebRTC for the H.264 cameras (and a transcoded one), with their own audio passed through.
    zoo = zoo_camera(cam["id"])
    if webrtc and ((expect.video_codec == "h264" and not zoo.timestamps_jump) or settings["video"] == "transcode"):
        settings.update(webrtc="main", webrtc_audio=ZOO_WEBRTC_AUDIO[expect.audio_codec])
    if cam["id"] in ZOO_RECORDING:
        settings.update(record=True, record_segment=10, retention="1h")
    return settings


def zoo_cameras(state: dict[str, Any], only: list[str] | None) -> list[dict[str, Any]]:
    """The zoo cameras the testbed runs (`testbed up --zoo`), in their own settings."""
    cameras = []
    for cam in state.get("zoo", []):
        if only is not None and cam["id"] not in only:
            continue
        credentials = {"username": cam["username"], "password_ref": f"secret:{cam['id']}"} if cam.get("password") else {}
        settings = zoo_settings(cam, webrtc_wanted(state))
        cameras.append(camera(cam["id"], url=cam["url"], name=f"Zoo {cam['kind']}", **credentials, **settings))
    return cameras


def metrics_fields(state: dict[str, Any], override: str = "CAMGATE_TESTBED_METRICS_FROM") -> dict[str, Any]:
    """Metrics for a Prometheus server on this machine (the testbed's host side), with the testbed's
    metrics user; $CAMGATE_TESTBED_METRICS_FROM (comma-separated networks, or `off`) overrides, for an
    edge $CAMGATE_TESTBED_EDGE_METRICS_FROM."""
    if "metrics" not in state:  # a testbed brought up before metrics existed
        return {}
    value = os.environ.get(override) or state["host_address"]
    sources = [] if value == "off" else [n for n in value.split(",") if n]
    return {"metrics_from": sources, "metrics_user": state["metrics"]["user"], "metrics_password_ref": "secret:metrics"}


# In an edge testbed's state folder: the CA of the gateway it fronts (tls='selfsigned'), which the
# tests save there after the gateway's first deploy (`camgate tls-ca` prints the same).
ORIGIN_CA_FILE = "origin-ca.pem"
# The edges' origin port on the testbed gateways (the default, 8443).
ORIGIN_PORT = 8443


def edge_dir() -> Path | None:
    """$CAMGATE_TESTBED_EDGE_DIR: a testbed that becomes a caching edge of the testbed gateway(s)."""
    value = os.environ.get("CAMGATE_TESTBED_EDGE_DIR")
    return Path(value).resolve() if value else None


def testbed_edge(state_dir: Path) -> dict[str, Any]:
    """The edge testbed's declaration: reached by its address, TLS as a testbed gateway's (Let's
    Encrypt from its own ACME server when it has one, else its own CA), metrics for this machine, the
    gateway's CA trusted, its credential from its secrets file."""
    state = read_state(state_dir)
    return edge(
        state["name"],
        **tls_fields(state),
        **metrics_fields(state, override="CAMGATE_TESTBED_EDGE_METRICS_FROM"),
        address=state["target_address"],
        secret_ref="secret:edge-credential",
        secrets_file=str(state_dir / "secrets.toml"),
        origin_ca=str(state_dir / ORIGIN_CA_FILE),
        ssh_user=state["ssh_user"],
        ssh_port=state.get("ssh_port", 22),
        ssh_key=state["ssh_key"],
        ssh_known_hosts_file=state["known_hosts"],
    )


def edge_fields(state: dict[str, Any]) -> dict[str, Any]:
    """With an edge testbed: the gateway's edges, its URL secret from the store (the edge checks the
    same URLs), a DNS name on its certificate for the edge to check, and its address to connect to."""
    found = edge_dir()
    if found is None:
        return {}
    return {"edges": [testbed_edge(found)], "url_secret_ref": "secret:url-signing", "origin_address": state["target_address"]}


def testbed_edges(gateways: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """The edge hosts of the testbed gateways, reached over SSH by address."""
    hosts = edges_of(gateways)
    for _host, data in hosts:
        data["ssh_hostname"] = read_state(edge_dir())["target_address"]
    return hosts


def testbed_dirs() -> list[Path]:
    """$CAMGATE_TESTBED_DIR, or several comma-separated (one gateway each), or .testbed."""
    value = os.environ.get("CAMGATE_TESTBED_DIR") or DEFAULT_STATE_DIR
    return [Path(d).resolve() for d in value.split(",") if d]


def testbed_gateway(state_dir: str | Path | None = None, only: list[str] | None = None) -> tuple[str, dict[str, Any]]:
    """The testbed host with its simulated cameras; `only` (or $CAMGATE_TESTBED_CAMERAS=cam1,cam2) keeps a subset."""
    state_dir = Path(state_dir).resolve() if state_dir else testbed_dirs()[0]
    state = read_state(state_dir)
    if only is None and os.environ.get("CAMGATE_TESTBED_CAMERAS"):
        only = [c for c in os.environ["CAMGATE_TESTBED_CAMERAS"].split(",") if c]
    cameras = []
    for index, cam in enumerate(state["cameras"]):
        if only is not None and cam["id"] not in only:
            continue
        settings = dict(CAMERA_SETTINGS[index % len(CAMERA_SETTINGS)])
        if not webrtc_wanted(state):
            settings.pop("webrtc", None)
        credentials = {"username": cam["username"], "password_ref": f"secret:{cam['id']}"} if cam.get("password") else {}
        cameras.append(camera(cam["id"], url=cam["url"], name=f"Testbed {cam['id']}", **credentials, **settings))
    cameras += zoo_cameras(state, only)
    cameras += clone_cameras(state)
    ids = {c["id"] for c in cameras}
    app_users = [
        {
            "name": name,
            "password_ref": f"secret:app-{name}",
            "cameras": [c for c in APP_USER_CAMERAS.get(name, []) if c in ids] + ([c["id"] for c in zoo_cameras(state, only)] if name == "alice" else []),
        }
        for name in state.get("app_users", {})
    ]
    allow_from = [n for n in os.environ.get("CAMGATE_TESTBED_SSH_ALLOW_FROM", "").split(",") if n]
    metrics = metrics_fields(state)
    tls = tls_fields(state)
    edges = edge_fields(state)
    if edges and tls["domain"] == state["target_address"]:
        tls["alt_domains"] = [*tls.get("alt_domains", []), state["domain"]]
    host, data = gateway(
        state["name"],
        **tls,
        **edges,
        app_users=app_users,
        hls_key_rotation=60,
        ssh_allow_from=allow_from,
        firewall=os.environ.get("CAMGATE_TESTBED_FIREWALL", "on") != "off",
        recordings_max_size=os.environ.get("CAMGATE_TESTBED_RECORDINGS_MAX_SIZE") or None,
        url_ttl=int(os.environ.get("CAMGATE_TESTBED_URL_TTL") or 3600),
        webrtc_max_viewers_per_user=int(os.environ.get("CAMGATE_TESTBED_WEBRTC_PER_USER") or 16),
        **metrics,
        secrets_file=str(state_dir / "secrets.toml"),
        ssh_user=state["ssh_user"],
        ssh_port=state.get("ssh_port", 22),
        ssh_key=state["ssh_key"],
        ssh_known_hosts_file=state["known_hosts"],
        cameras=cameras,
    )
    data["ssh_hostname"] = state["target_address"]
    return host, data
