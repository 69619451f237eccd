"""Cameras: one hardened systemd unit per enabled camera, pulling RTSP and writing live HLS."""

from io import StringIO

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.facts.files import FindFiles
from pyinfra.operations import files, systemd
from pyinfra.operations.util import any_changed

from camgate.ffmpeg import RTSP_URL_PLACEHOLDER, input_url
from camgate.inventory import gateway_from_host
from camgate.render import credentials_path, render, render_camera_unit
from camgate.secrets import resolve_secret
from roles.ffmpeg import ffmpeg_major_on_host

UNIT_DIR = "/etc/systemd/system"
UNIT_GLOB = "camgate-camera-*.service"
LAUNCHER = "/usr/local/lib/camgate/camgate-camera-run"


@deploy("camgate cameras")
def cameras() -> None:
    """Guarantees, per enabled camera: /etc/camgate/credentials/<id>.url (0600 root) holding the RTSP
    URL with credentials; /etc/systemd/system/camgate-camera-<id>.service enabled and running,
    restarted when its unit or credentials changed. Units of cameras no longer enabled are stopped,
    disabled and deleted with their credentials. Reads: cameras[*], hls_root, secrets_file."""
    gateway = gateway_from_host(host)
    major = ffmpeg_major_on_host()
    launcher = files.put(
        name="Camera launcher",
        src=StringIO(render("bin/camgate-camera-run.j2", placeholder=RTSP_URL_PLACEHOLDER)),
        dest=LAUNCHER,
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
        changes[unit_name] = (unit, credentials)

    removed = remove_stale_cameras(set(wanted))
    units = [unit for unit, _ in changes.values()]
    systemd.daemon_reload(name="Reload systemd units", _if=any_changed(*units, *removed))
    for unit_name in wanted:
        systemd.service(name=f"Run {unit_name}", service=unit_name, running=True, enabled=True)
    for unit_name, (unit, credentials) in changes.items():
        systemd.service(
            name=f"Restart {unit_name} (changed)",
            service=unit_name,
            running=None,
            restarted=True,
            _if=any_changed(unit, credentials, launcher),
        )


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
