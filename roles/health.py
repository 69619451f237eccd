"""Health: what `camgate status` and GET /api/status report about every camera."""

from io import StringIO
from pathlib import Path

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import files, systemd
from pyinfra.operations.util import any_changed

from camgate import health as health_module
from camgate.inventory import gateway_from_host
from camgate.manifest import HEALTH_STATUS_FILE
from camgate.render import camera_hls_dir, render

UNIT_DIR = "/etc/systemd/system"
SCRIPT = "/usr/local/lib/camgate/camgate-health"
CONFIG = "/etc/camgate/health.json"
SERVICE = "camgate-health.service"
TIMER = "camgate-health.timer"
INTERVAL_SECONDS = 10


@deploy("camgate health")
def health() -> None:
    """Guarantees: camgate-health.timer writes /run/camgate/health/status.json every 10 s (per
    enabled camera: up/down, newest segment age, unit state, restarts since boot, last ffmpeg line
    that is not noise), readable by nginx through the camgate group for GET /api/status; the same
    script answers `camgate status` over SSH. Reads: cameras (id, hls_time), hls_root."""
    gateway = gateway_from_host(host)
    config = {
        "cameras": [
            {"id": c.id, "unit": c.unit_name, "playlist": f"{camera_hls_dir(gateway, c)}/stream.m3u8", "hls_time": c.hls_time}
            for c in gateway.enabled_cameras
        ]
    }
    changed = [
        files.put(name="Health script", src=str(Path(health_module.__file__)), dest=SCRIPT, mode="0755"),
        files.put(
            name="Health settings",
            src=StringIO(render("camgate/health.json.j2", config=config)),
            dest=CONFIG,
            mode="0644",
        ),
    ]
    units = [
        files.put(
            name=f"Unit {unit}",
            src=StringIO(render(f"systemd/{unit}.j2", interval=INTERVAL_SECONDS, status_file=HEALTH_STATUS_FILE)),
            dest=f"{UNIT_DIR}/{unit}",
            mode="0644",
        )
        for unit in (SERVICE, TIMER)
    ]
    systemd.daemon_reload(name="Reload systemd (health units)", _if=any_changed(*units))
    systemd.service(name="Health timer", service=TIMER, running=True, enabled=True)
    systemd.service(name="Health now", service=SERVICE, running=None, restarted=True, _if=any_changed(*changed, *units))
