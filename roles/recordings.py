"""Recordings: the persistent store the camera units write into, and retention on a timer."""

from pathlib import Path

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import files, server, systemd
from pyinfra.operations.util import any_changed

from camgate import paths
from camgate.gateway import retention
from camgate.inventory import gateway_from_host
from camgate.render import render
from camgate.units import parse_duration, parse_min_free, parse_size
from roles.facts import PathStates, before, directory_state, known_file_state
from roles.operations import ensure_running, put_many

INTERVAL_SECONDS = 60


@deploy("camgate recordings")
def recordings() -> None:
    """Guarantees while some camera has record=True: recordings_root and a folder per recording
    camera (0750 camgate:camgate, nginx reads through the group); camgate-retention.timer runs
    every minute and deletes, logging each file, what is past its camera's retention, then the
    oldest files across cameras while the store exceeds recordings_max_size or the disk has less
    free space than recordings_min_free. It also runs once when the retention settings change.
    Without recording cameras the timer and its files go; recordings already made stay on disk.
    Reads: cameras (record, retention, record_segment), recordings_root, recordings_max_size,
    recordings_min_free."""
    gateway = gateway_from_host(host)
    cameras = gateway.recording_cameras
    if not cameras:
        remove_retention()
        return
    folders = [gateway.recordings_root, *(gateway.recordings_dir(c) for c in cameras)]
    # One round trip for all folders; only a missing or wrong one gets an operation.
    present = before(PathStates, paths=tuple(folders))
    for path in folders:
        if present.get(path) != directory_state("0750", "camgate", "camgate"):
            files.directory(name=f"Recordings folder {path}", path=path, user="camgate", group="camgate", mode="0750")

    unit_files = {
        paths.unit_path(unit): render(f"systemd/{unit}.j2", root=gateway.recordings_root, interval=INTERVAL_SECONDS)
        for unit in (paths.RETENTION_SERVICE, paths.RETENTION_TIMER)
    }
    ops = put_many("Retention files", [
        ("Retention script", paths.RETENTION_SCRIPT, Path(retention.__file__).read_text(), "0755", "root", "root"),
        ("Retention settings", paths.RETENTION_CONFIG, render("camgate/retention.json.j2", config=retention_config(gateway)), "0644", "root", "root"),
        *((f"Unit {path.rsplit('/', 1)[-1]}", path, content, "0644", "root", "root") for path, content in unit_files.items()),
    ])  # fmt: skip
    script, config = ops[paths.RETENTION_SCRIPT], ops[paths.RETENTION_CONFIG]
    units = [ops[path] for path in unit_files]
    systemd.daemon_reload(name="Reload systemd (retention units)", _if=any_changed(*units))
    ensure_running("Retention timer", paths.RETENTION_TIMER)
    server.shell(
        name="Apply the new retention settings now",
        commands=[f"systemctl start {paths.RETENTION_SERVICE}"],
        _if=any_changed(script, config, *units),
    )


def retention_config(gateway) -> dict:
    max_size = parse_size(gateway.recordings_max_size) if gateway.recordings_max_size else None
    return {
        "root": gateway.recordings_root,
        "max_size": max_size,
        "min_free": list(parse_min_free(gateway.recordings_min_free)),
        "cameras": {
            c.id: {"retention": parse_duration(c.retention), "segment": c.record_segment}
            for c in gateway.recording_cameras
        },
    }


def remove_retention() -> None:
    timer = paths.RETENTION_TIMER
    if known_file_state(paths.unit_path(timer))[1] is None:
        return
    systemd.service(name="Stop the retention timer", service=timer, running=False, enabled=False)
    for path in (paths.unit_path(timer), paths.unit_path(paths.RETENTION_SERVICE), paths.RETENTION_CONFIG, paths.RETENTION_SCRIPT):
        files.file(name=f"Remove {path}", path=path, present=False)
    systemd.daemon_reload(name="Reload systemd (retention removed)")
