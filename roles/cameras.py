"""Cameras: one hardened systemd unit per enabled camera, pulling RTSP and writing live HLS."""

import fnmatch
import posixpath
import shlex
from io import StringIO

from pyinfra import host
from pyinfra.api import deploy

from pyinfra.operations import files, server, systemd
from pyinfra.operations.util import any_changed

from camgate import paths
from camgate.ffmpeg import KEY_INFO_NAME, PLAYLIST_NAME, RTSP_URL_PLACEHOLDER, input_url
from camgate.inventory import gateway_from_host
from camgate.render import render, render_camera_unit
from camgate.restarts import BACKOFF
from camgate.secrets import resolve_secret
from roles.facts import LoadedUnits, before, enabled_units_before, ffmpeg_major_on_host, file_state, file_states_before, known_file_state, managed_files
from roles.operations import ensure_running, put, put_files, put_secret

# From this many files (or units to start) on, one archive (or one systemctl) carries them all: a first
# deploy of 64 cameras would otherwise spend several round trips per file. Fewer keep an operation each,
# named after its camera, which is what a day-to-day change shows.
BATCH_FROM = 8


def launcher_script(**backoff) -> str:
    """The camera launcher as deployed (BACKOFF, or what a test puts in its place)."""
    return render("bin/camgate-camera-run.j2", placeholder=RTSP_URL_PLACEHOLDER, playlist=PLAYLIST_NAME, **{**BACKOFF, **backoff})


@deploy("camgate cameras")
def cameras() -> None:
    """Guarantees, per enabled camera and per stream of it (main `<id>`; with sub_url also `<id>.sub`):
    /etc/camgate/credentials/<stream>.url (0600 root) holding the RTSP URL with credentials;
    /etc/systemd/system/camgate-camera-<stream>.service enabled and running, restarted when its unit
    or credentials changed. Units of cameras no longer enabled are stopped,
    disabled and deleted with their credentials. While some camera has encrypt=True,
    camgate-hls-keys.timer gives each such camera a new AES-128 key every hls_key_rotation seconds.
    Reads: cameras[*] (sub_url among them), hls_root, hls_key_rotation, secrets_file."""
    gateway = gateway_from_host(host)
    major = ffmpeg_major_on_host()
    # One unit per stream: each camera's main stream, and its sub stream if it has one.
    wanted = {stream.unit_name: (camera, stream) for camera in gateway.enabled_cameras for stream in camera.streams}
    # Everything this role writes, rendered up front: (path, content, mode, stream id or None).
    planned = [
        (paths.CAMERA_LAUNCHER, launcher_script(), "0755", None),
        (paths.HLS_KEY_SCRIPT, render("bin/camgate-hls-key.j2", **key_rotation_context(gateway)), "0755", None),
    ]
    for unit_name, (camera, stream) in wanted.items():
        password = resolve_secret(camera.password_ref, gateway.secrets_file) if camera.password_ref else None
        planned.append((paths.credentials_path(stream.id), input_url(camera, password, stream.url) + "\n", "0600", stream.id))
        planned.append((paths.unit_path(unit_name), render_camera_unit(gateway, camera, major, stream), "0644", stream.id))
    # Every file's state from the deploy's snapshot: only what differs gets an operation (and its facts).
    present = file_states_before(path for path, *_ in planned)
    differing = [item for item in planned if present.get(item[0]) != file_state(item[1], item[2])]
    puts = {}
    if len(differing) >= BATCH_FROM:
        batch = put_files(
            name=f"Files of {len({c for *_, c in differing if c})} camera stream(s) ({len(differing)} files, one archive)",
            files=[(path, content, mode, "root", "root") for path, content, mode, _ in differing],
        )
        puts = {path: batch for path, *_ in differing}
    for path, content, mode, camera_id in differing if not puts else ():
        if path.endswith(".url"):  # the camera URL with its password: a generic name, no diff output
            puts[path] = put_secret(name=f"Credentials of camera {camera_id}", dest=path, content=content, mode=mode)
            continue
        label = f"File of camera {camera_id}" if camera_id else path
        puts[path] = files.put(name=label, src=StringIO(content), dest=path, user="root", group="root", mode=mode)

    removed = remove_stale_cameras(set(wanted))
    key_units = key_rotation_units(gateway)
    unit_puts = [op for path, op in puts.items() if path.endswith(".service")]
    systemd.daemon_reload(name="Reload systemd units", _if=any_changed(*unit_puts, *removed, *key_units))
    running = before(LoadedUnits)
    starting = [unit for unit in wanted if not running.get(unit)]
    enabled = enabled_units_before(unit for unit in wanted if running.get(unit))
    if len(starting) >= BATCH_FROM:
        # Not running before this deploy: they start with their new files, no restart needed.
        server.shell(name=f"Run {len(starting)} camera units", commands=[shlex.join(["systemctl", "enable", "--now", "--no-block", *starting])])
    for unit_name, (camera, stream) in wanted.items():
        own = [op for path, op in puts.items() if path in (paths.credentials_path(stream.id), paths.unit_path(unit_name))]
        if camera.encrypt and paths.HLS_KEY_SCRIPT in puts:
            own.append(puts[paths.HLS_KEY_SCRIPT])
        if paths.CAMERA_LAUNCHER in puts:
            own.append(puts[paths.CAMERA_LAUNCHER])
        if not running.get(unit_name):
            # Not running before this deploy: it starts with its new files, no restart needed.
            if len(starting) < BATCH_FROM:
                systemd.service(name=f"Run {unit_name}", service=unit_name, running=True, enabled=True)
            continue
        if own:
            systemd.service(
                name=f"Restart {unit_name} (changed)",
                service=unit_name,
                running=None,
                restarted=True,
                _if=any_changed(*own),
            )
        if not enabled.get(unit_name):  # running, but disabled by hand: it must come back after a reboot
            systemd.service(name=f"Enable {unit_name}", service=unit_name, running=None, enabled=True)
    if gateway.encrypted_cameras:
        ensure_running("AES-128 key rotation timer", paths.HLS_KEYS_TIMER)


def key_rotation_context(gateway) -> dict:
    rotation = gateway.hls_key_rotation
    # A key must outlive every playlist that can list a segment encrypted with it.
    return {"rotation": rotation, "key_info": KEY_INFO_NAME, "keep_minutes": rotation // 60 + 15}


def key_rotation_units(gateway) -> list:
    """camgate-hls-keys.service/.timer while some camera encrypts; removed when none does."""
    dirs = [gateway.hls_dir(stream) for camera in gateway.encrypted_cameras for stream in camera.streams]
    context = {**key_rotation_context(gateway), "dirs": dirs, "hls_root": gateway.hls_root}
    ops = []
    if not dirs and known_file_state(paths.unit_path(paths.HLS_KEYS_TIMER))[1] is not None:
        ops.append(systemd.service(name="Stop AES-128 key rotation", service=paths.HLS_KEYS_TIMER, running=False, enabled=False))
    for unit in (paths.HLS_KEYS_SERVICE, paths.HLS_KEYS_TIMER):
        if dirs:
            ops.append(put(name=f"Unit {unit}", content=render(f"systemd/{unit}.j2", **context), dest=paths.unit_path(unit)))
        elif known_file_state(paths.unit_path(unit))[1] is not None:
            ops.append(files.file(name=f"No {unit}", path=paths.unit_path(unit), present=False))
    return ops


def remove_stale_cameras(wanted_units: set[str]) -> list:
    """Stop, disable and delete the units (and credentials) of cameras not in the inventory any more."""
    present = [path for path in managed_files() if posixpath.dirname(path) == paths.UNIT_DIR
               and fnmatch.fnmatch(posixpath.basename(path), paths.CAMERA_UNIT_GLOB)]  # fmt: skip
    ops = []
    for path in sorted(present):
        unit_name = path.rsplit("/", 1)[-1]
        if unit_name in wanted_units:
            continue
        camera_id = paths.camera_of_unit(unit_name)
        ops.append(systemd.service(name=f"Stop removed {unit_name}", service=unit_name, running=False, enabled=False))
        ops.append(files.file(name=f"Delete {unit_name}", path=path, present=False))
        ops.append(files.file(name=f"Delete credentials of {camera_id}", path=paths.credentials_path(camera_id), present=False))
    return ops
