"""Cameras: one hardened systemd unit per enabled camera, pulling RTSP and writing live HLS."""

from io import StringIO

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.facts.files import File, FindFiles
from pyinfra.facts.systemd import SystemdStatus
from pyinfra.operations import files, systemd
from pyinfra.operations.util import any_changed

from camgate.ffmpeg import KEY_INFO_NAME, RTSP_URL_PLACEHOLDER, input_url
from camgate.inventory import gateway_from_host
from camgate.render import camera_hls_dir, credentials_path, render, render_camera_unit
from camgate.secrets import resolve_secret
from roles.ffmpeg import ffmpeg_major_on_host

UNIT_DIR = "/etc/systemd/system"
UNIT_GLOB = "camgate-camera-*.service"
LAUNCHER = "/usr/local/lib/camgate/camgate-camera-run"
KEY_SCRIPT = "/usr/local/lib/camgate/camgate-hls-key"
# Restart pacing of a failing camera (see templates/bin/camgate-camera-run.j2).
BACKOFF = {"fast_retries": 10, "max_delay": 30, "healthy_run": 60}
KEY_SERVICE = "camgate-hls-keys.service"
KEY_TIMER = "camgate-hls-keys.timer"


@deploy("camgate cameras")
def cameras() -> None:
    """Guarantees, per enabled camera: /etc/camgate/credentials/<id>.url (0600 root) holding the RTSP
    URL with credentials; /etc/systemd/system/camgate-camera-<id>.service enabled and running,
    restarted when its unit or credentials changed. Units of cameras no longer enabled are stopped,
    disabled and deleted with their credentials. While some camera has encrypt=True,
    camgate-hls-keys.timer gives each such camera a new AES-128 key every hls_key_rotation seconds.
    Reads: cameras[*], hls_root, hls_key_rotation, secrets_file."""
    gateway = gateway_from_host(host)
    major = ffmpeg_major_on_host()
    launcher = files.put(
        name="Camera launcher",
        src=StringIO(render("bin/camgate-camera-run.j2", placeholder=RTSP_URL_PLACEHOLDER, **BACKOFF)),
        dest=LAUNCHER,
        user="root",
        group="root",
        mode="0755",
    )
    key_script = files.put(
        name="AES-128 key script",
        src=StringIO(render("bin/camgate-hls-key.j2", **key_rotation_context(gateway))),
        dest=KEY_SCRIPT,
        user="root",
        group="root",
        mode="0755",
    )

    wanted = {camera.unit_name: camera for camera in gateway.enabled_cameras}
    changes = {}
    for unit_name, camera in wanted.items():
        password = resolve_secret(camera.password_ref, gateway.secrets_file) if camera.password_ref else None
        # name= keeps the credentials out of pyinfra's output.
        credentials = files.put(
            name=f"Credentials of camera {camera.id}",
            src=StringIO(input_url(camera, password) + "\n"),
            dest=credentials_path(camera.id),
            user="root",
            group="root",
            mode="0600",
        )
        unit = files.put(
            name=f"Unit of camera {camera.id}",
            src=StringIO(render_camera_unit(gateway, camera, major)),
            dest=f"{UNIT_DIR}/{unit_name}",
            user="root",
            group="root",
            mode="0644",
        )
        changes[unit_name] = (camera, unit, credentials)

    removed = remove_stale_cameras(set(wanted))
    units = [unit for _, unit, _ in changes.values()]
    key_units = key_rotation_units(gateway)
    systemd.daemon_reload(name="Reload systemd units", _if=any_changed(*units, *removed, *key_units))
    # A unit that was not running before this deploy starts with its new files: no restart needed.
    was_running = host.get_fact(SystemdStatus)
    for unit_name in wanted:
        systemd.service(name=f"Run {unit_name}", service=unit_name, running=True, enabled=True)
    for unit_name, (camera, unit, credentials) in changes.items():
        if not was_running.get(unit_name):
            continue
        systemd.service(
            name=f"Restart {unit_name} (changed)",
            service=unit_name,
            running=None,
            restarted=True,
            _if=any_changed(unit, credentials, launcher, *([key_script] if camera.encrypt else [])),
        )
    if gateway.encrypted_cameras:
        systemd.service(name="AES-128 key rotation timer", service=KEY_TIMER, running=True, enabled=True)


def key_rotation_context(gateway) -> dict:
    rotation = gateway.hls_key_rotation
    # A key must outlive every playlist that can list a segment encrypted with it.
    return {"rotation": rotation, "key_info": KEY_INFO_NAME, "keep_minutes": rotation // 60 + 15}


def key_rotation_units(gateway) -> list:
    """camgate-hls-keys.service/.timer while some camera encrypts; removed when none does."""
    dirs = [camera_hls_dir(gateway, camera) for camera in gateway.encrypted_cameras]
    context = {**key_rotation_context(gateway), "dirs": dirs, "hls_root": gateway.hls_root}
    ops = []
    if not dirs and host.get_fact(File, path=f"{UNIT_DIR}/{KEY_TIMER}"):
        ops.append(systemd.service(name="Stop AES-128 key rotation", service=KEY_TIMER, running=False, enabled=False))
    for unit in (KEY_SERVICE, KEY_TIMER):
        if dirs:
            ops.append(files.put(
                name=f"Unit {unit}",
                src=StringIO(render(f"systemd/{unit}.j2", **context)),
                dest=f"{UNIT_DIR}/{unit}",
                user="root",
                group="root",
                mode="0644",
            ))  # fmt: skip
        else:
            ops.append(files.file(name=f"No {unit}", path=f"{UNIT_DIR}/{unit}", present=False))
    return ops


def remove_stale_cameras(wanted_units: set[str]) -> list:
    """Stop, disable and delete the units (and credentials) of cameras not in the inventory any more."""
    present = host.get_fact(FindFiles, path=UNIT_DIR, fname=UNIT_GLOB, maxdepth=1) or []
    ops = []
    for path in sorted(present):
        unit_name = path.rsplit("/", 1)[-1]
        if unit_name in wanted_units:
            continue
        camera_id = unit_name.removeprefix("camgate-camera-").removesuffix(".service")
        ops.append(systemd.service(name=f"Stop removed {unit_name}", service=unit_name, running=False, enabled=False))
        ops.append(files.file(name=f"Delete {unit_name}", path=path, present=False))
        ops.append(files.file(name=f"Delete credentials of {camera_id}", path=credentials_path(camera_id), present=False))
    return ops
