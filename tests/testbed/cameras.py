"""The simulated cameras: one fake_camera.py process (GStreamer RTSP server) per camera, on the host side."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from .errors import TestbedError
from .layout import AUTH_USERNAME, Layout
from .proc import find_pids, pid_matches, reap, terminate
from .zoo import DEFAULT_KIND, KINDS, ZOO_PREFIX, ZooCamera

FAKE_CAMERA_SCRIPT = Path(__file__).with_name("fake_camera.py")
ONVIF_DEVICE_SCRIPT = Path(__file__).with_name("onvif_device.py")
# GStreamer's Python bindings come from Debian packages, so the camera runs on Debian's interpreter.
SYSTEM_PYTHON = "/usr/bin/python3"
READY_TIMEOUT = 20.0


def camera_ids(count: int) -> list[str]:
    return [f"cam{number}" for number in range(1, count + 1)]


def new_password() -> str:
    """A random password with characters that must be percent-encoded in an RTSP URL."""
    return f"{secrets.token_urlsafe(9)}@:/x"


def start_camera(
    layout: Layout,
    number: int,
    password: str | None,
    kind: str = DEFAULT_KIND,
    sub: bool = False,
    auth_method: str = "basic",
    camera_id: str | None = None,
    stamp: bool = True,
    encoder_settings: Path | None = None,
) -> dict:
    """Start one camera process detached from us; wait for its READY line; return its state entry.

    `number` picks the port (Layout.camera_port); the id (and mount /<id>) defaults to cam<number>.
    `kind` is one of tests.testbed.zoo.KINDS; `sub` also serves /<id>-sub; with a password the
    camera asks for it with `auth_method` (basic or digest). stamp=False: no timestamp QR code in
    the picture (it costs CPU, and only glass-to-glass measurements read it). `encoder_settings`: an
    ONVIF simulator's state file whose GOP lengths the camera follows (fake_camera.py says how)."""
    camera_id = camera_id or f"cam{number}"
    if kind not in KINDS:
        raise TestbedError(f"camera {camera_id}: unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
    if auth_method not in ("basic", "digest"):
        raise TestbedError(f"camera {camera_id}: auth_method must be basic or digest, got {auth_method!r}")
    port = layout.camera_port(number)
    argv = [
        SYSTEM_PYTHON, str(FAKE_CAMERA_SCRIPT),
        "--address", layout.host_address, "--port", str(port), "--mount", f"/{camera_id}",
        "--instance", layout.name,
    ]  # fmt: skip
    if kind != DEFAULT_KIND:
        argv += ["--kind", kind]
    if sub:
        argv += ["--sub"]
    if not stamp:
        argv += ["--no-stamp"]
    if encoder_settings is not None:
        argv += ["--encoder-settings", str(encoder_settings)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    if password is not None:
        password_file = layout.run_dir / f"{camera_id}.password"
        write_private(password_file, password)
        argv += ["--user", AUTH_USERNAME, "--password-file", str(password_file)]
        if auth_method != "basic":
            argv += ["--auth-method", auth_method]
    log_path = layout.camera_log(camera_id)
    with open(log_path, "w") as out:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env=env, start_new_session=True, close_fds=True,
        )  # fmt: skip
    layout.pid_file(camera_id).write_text(f"{proc.pid}\n")
    wait_for_ready(proc, log_path, camera_id)
    url = f"rtsp://{layout.host_address}:{port}/{camera_id}"
    entry = {
        "id": camera_id,
        "url": url,
        "pid": proc.pid,
        "log": str(log_path),
        "number": number,
        "kind": kind,
    }
    if sub:
        entry["sub_url"] = f"{url}-sub"
    if not stamp:
        entry["stamp"] = False
    if encoder_settings is not None:
        entry["encoder_settings"] = str(encoder_settings)
    if password is not None:
        entry.update(username=AUTH_USERNAME, password=password, auth_method=auth_method)
    return entry


def start_zoo_camera(layout: Layout, camera: ZooCamera, password: str | None) -> dict:
    """Start one camera of tests.testbed.zoo.ZOO (it needs a password when camera.auth is set)."""
    if (password is None) != (camera.auth is None):
        raise TestbedError(f"zoo camera {camera.id}: auth {camera.auth!r} but password {'given' if password else 'missing'}")
    return start_camera(
        layout, camera.number, password, kind=camera.kind, sub=camera.sub,
        auth_method=camera.auth or "basic", camera_id=camera.id, stamp=camera.stamp,
    )  # fmt: skip


def restart_camera(layout: Layout, entry: dict, password: str | None, encoder_settings: Path | None = None) -> dict:
    """Start a camera again as its state entry describes it (same port, kind, sub profile, auth method),
    with `password` (None: no auth), following `encoder_settings` if given. Entries written before the
    zoo existed are cam<number> H.264+AAC."""
    camera_id = entry["id"]
    number = entry.get("number") or int(camera_id.removeprefix("cam"))
    return start_camera(
        layout, number, password, kind=entry.get("kind", DEFAULT_KIND), sub="sub_url" in entry,
        auth_method=entry.get("auth_method", "basic"), camera_id=camera_id, stamp=entry.get("stamp", True),
        encoder_settings=encoder_settings,
    )  # fmt: skip


def start_onvif_device(run_dir: Path, address: str, port: int, brand: str, profiles: list[str], username: str,
                       password: str, clock_offset: int = 0, stall: str | None = None, lifetime: int = 600,
                       discovery: str | None = None, discovery_port: int = 3702) -> subprocess.Popen:
    """An ONVIF device simulator (onvif_device.py) in front of fake cameras: each profile is
    name=rtsp-uri,encoding,WxH,fps,gop; its GOP lengths are kept in run_dir/onvif-<port>.json. With
    `discovery` (onvif, printer or malformed) it also answers WS-Discovery probes on UDP
    `discovery_port` as that kind of device. Stops itself after `lifetime` seconds; the caller
    terminates it sooner."""
    password_file = run_dir / f"onvif-{port}.password"
    write_private(password_file, password)
    argv = [sys.executable, str(ONVIF_DEVICE_SCRIPT), "--address", address, "--port", str(port), "--brand", brand,
            "--username", username, "--password-file", str(password_file), "--clock-offset", str(clock_offset),
            "--state-file", str(onvif_state_file(run_dir, port)), "--lifetime", str(lifetime)]  # fmt: skip
    for profile in profiles:
        argv += ["--profile", profile]
    if stall:
        argv += ["--stall", stall]
    if discovery:
        argv += ["--discovery", "--discovery-kind", discovery, "--discovery-port", str(discovery_port)]
    log_path = run_dir / f"onvif-{port}.log"
    with open(log_path, "w") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    wait_for_ready(proc, log_path, f"ONVIF device {address}:{port}")
    return proc


def onvif_state_file(run_dir: Path, port: int) -> Path:
    return run_dir / f"onvif-{port}.json"


def wait_for_ready(proc: subprocess.Popen, log_path: Path, camera_id: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if "READY " in log_path.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise TestbedError(
                f"camera {camera_id} exited with {proc.returncode} at start: {log_path.read_text()[-1500:]}"
            )
        time.sleep(0.1)
    raise TestbedError(f"camera {camera_id} did not get ready within {READY_TIMEOUT:.0f}s; see {log_path}")


def camera_clock(entry: dict, url: str | None = None) -> float | None:
    """The Unix time (ms) of a camera's running time 0 for the mount of `url` (default: its main
    stream), from the latest CLOCK line in its log (fake_camera.py writes one whenever a mount's media
    starts); None before any. A frame's timestamp (its QR code) plus this is when the frame was made."""
    mount = urlsplit(url or entry["url"]).path
    lines = [line.split() for line in Path(entry["log"]).read_text(errors="replace").splitlines()]
    clocks = [float(words[2]) for words in lines if len(words) == 3 and words[:2] == ["CLOCK", mount]]
    return clocks[-1] if clocks else None


def camera_pids(layout: Layout) -> list[int]:
    """Every fake camera process of this testbed, found by its --instance label."""

    def mine(argv: list[str]) -> bool:
        return str(FAKE_CAMERA_SCRIPT) in argv and layout.name in argv

    return find_pids(mine)


def stop_cameras(layout: Layout) -> None:
    """Terminate every camera of this testbed and remove their PID and password files."""
    for pid in camera_pids(layout):
        terminate(pid, grace=5.0)
        reap(pid)
    if layout.run_dir.is_dir():
        for prefix in ("cam", ZOO_PREFIX):
            for path in list(layout.run_dir.glob(f"{prefix}*.pid")) + list(layout.run_dir.glob(f"{prefix}*.password")):
                path.unlink(missing_ok=True)


def camera_alive(entry: dict) -> bool:
    return pid_matches(entry.get("pid"), str(FAKE_CAMERA_SCRIPT))


def write_private(path: Path, text: str) -> None:
    """Write a file only root can read (created 0600, never briefly world-readable)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
