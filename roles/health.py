"""Health: what `camgate status` and GET /api/status report about every camera."""

from pathlib import Path

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import systemd
from pyinfra.operations.util import any_changed

from camgate import paths, webrtc
from camgate.ffmpeg import PLAYLIST_NAME
from camgate.gateway import health as health_module
from camgate.gateway import media as media_module
from camgate.inventory import gateway_from_host
from camgate.render import render
from roles.operations import ensure_running, put_many

INTERVAL_SECONDS = 10


@deploy("camgate health")
def health() -> None:
    """Guarantees: camgate-health.timer writes /run/camgate/health/status.json every 10 s (per
    enabled camera: up/down/stalled/unplayable with the reason, judged from the playlist and the
    media itself; newest segment age, unit state, restarts since boot, last ffmpeg line that is not
    noise; the camera's multivariant playlist), readable by nginx through the camgate group for
    GET /api/status and .../index.m3u8; the same script answers `camgate status` over SSH.
    Reads: cameras (id, hls_time), hls_root."""
    gateway = gateway_from_host(host)
    config = {"cameras": [health_entry(gateway, camera) for camera in gateway.enabled_cameras]}
    code = {"health": health_module, "media": media_module}
    unit_files = {
        paths.unit_path(unit): render(f"systemd/{unit}.j2", interval=INTERVAL_SECONDS, metrics=gateway.metrics)
        for unit in (paths.HEALTH_SERVICE, paths.HEALTH_TIMER)
    }
    ops = put_many("Health files", [
        *((f"Gateway code {name}", paths.GATEWAY_CODE[name], Path(module.__file__).read_text(), "0755", "root", "root")
          for name, module in code.items()),
        ("Health settings", paths.HEALTH_CONFIG, render("camgate/health.json.j2", config=config), "0644", "root", "root"),
        *((f"Unit {path.rsplit('/', 1)[-1]}", path, content, "0644", "root", "root") for path, content in unit_files.items()),
    ])  # fmt: skip
    units = [ops[path] for path in unit_files]
    changed = [op for path, op in ops.items() if path not in unit_files]
    systemd.daemon_reload(name="Reload systemd (health units)", _if=any_changed(*units))
    ensure_running("Health timer", paths.HEALTH_TIMER)
    systemd.service(name="Health now", service=paths.HEALTH_SERVICE, running=None, restarted=True, _if=any_changed(*changed, *units))


def health_entry(gateway, camera) -> dict:
    """What the health script needs to know of one camera (see camgate/gateway/health.py)."""

    def stream_entry(stream) -> dict:
        folder = gateway.hls_dir(stream)
        return {"unit": stream.unit_name, "dir": folder, "playlist": f"{folder}/{PLAYLIST_NAME}"}

    main, *sub = camera.streams
    entry = {"id": camera.id, **stream_entry(main), "hls_time": camera.hls_time}
    if sub:
        entry["sub"] = stream_entry(sub[0])
    if camera.webrtc != "off":
        entry["webrtc"] = {
            "stream": camera.webrtc,
            "status_url": f"http://127.0.0.1:{paths.WEBRTC_PORT}/status",
            "media_timeout": webrtc.MEDIA_TIMEOUT,
        }
    return entry
