"""Metrics for Prometheus: the distribution's node exporter on loopback, camgate's own metrics in its
textfile collector, served by nginx to the inventory's metrics_from (see roles/nginx.py)."""

from pathlib import Path

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import files, server, systemd
from pyinfra.operations.util import any_changed

from camgate import packages, paths
from camgate.gateway import metrics as metrics_module
from camgate.inventory import gateway_from_host
from camgate.render import render
from roles.facts import known_file_state
from roles.operations import ensure_packages, ensure_running, put, put_many, restart_if_changed, was_running

CERTIFICATE_CREDENTIAL = "fullchain.pem"


@deploy("camgate metrics")
def metrics() -> None:
    """Guarantees, with metrics_from set: prometheus-node-exporter installed, enabled and running on
    127.0.0.1:9101 only (camgate's drop-in, hardened; restarted when the drop-in changed), its
    textfile collector reading /run/camgate/metrics; camgate-metrics.service runs after every health
    run (every 10 s) and writes camgate.prom there atomically: per camera and stream up/state,
    segment age, restarts, bit rate, segment durations, WebRTC viewers; per recording camera bytes,
    files, oldest and newest recording; the recordings budget; the certificate's expiry; the last
    deploy (docs/metrics.md). nginx serves it (roles/nginx.py) and the firewall admits metrics_from
    only (roles/firewall.py). Without metrics_from: node exporter stopped and disabled, camgate's
    metrics files gone. Reads: metrics_from, tls, recordings (any camera with record)."""
    gateway = gateway_from_host(host)
    if not gateway.metrics:
        remove_metrics()
        return
    running_before = was_running(paths.NODE_EXPORTER_SERVICE)
    # The drop-in before the package: its first start already listens on loopback only.
    dropin = put(
        name="prometheus-node-exporter.service drop-in",
        content=render("systemd/prometheus-node-exporter.service.d/camgate.conf.j2"),
        dest=paths.NODE_EXPORTER_DROPIN,
    )
    ensure_packages("Install prometheus-node-exporter", packages.NODE_EXPORTER)
    certificate = CERTIFICATE_CREDENTIAL if gateway.https else None
    config = {
        "health": paths.HEALTH_STATUS_FILE,
        "retention": paths.RETENTION_SUMMARY_FILE if gateway.recording_cameras else None,
        "certificate": certificate,
        "deploy_stamp": paths.DEPLOY_STAMP,
    }
    ops = put_many("Metrics files", [
        ("Gateway code metrics", paths.METRICS_SCRIPT, Path(metrics_module.__file__).read_text(), "0755", "root", "root"),
        ("Metrics settings", paths.METRICS_CONFIG, render("camgate/metrics.json.j2", config=config), "0644", "root", "root"),
        (f"Unit {paths.METRICS_SERVICE}", paths.unit_path(paths.METRICS_SERVICE),
         render(f"systemd/{paths.METRICS_SERVICE}.j2", certificate=certificate), "0644", "root", "root"),
    ])  # fmt: skip
    changed = [ops[paths.METRICS_SCRIPT], ops[paths.METRICS_CONFIG]]
    unit = ops[paths.unit_path(paths.METRICS_SERVICE)]
    systemd.daemon_reload(name="Reload systemd (metrics units)", _if=any_changed(dropin, unit))
    ensure_running("node exporter enabled and running", paths.NODE_EXPORTER_SERVICE)
    restart_if_changed("Restart node exporter (changed)", paths.NODE_EXPORTER_SERVICE, running_before, dropin)
    server.shell(
        name="Metrics now",
        commands=[f"systemctl start {paths.METRICS_SERVICE}"],
        _if=any_changed(*changed, unit),
    )


def remove_metrics() -> None:
    """metrics_from emptied: stop serving (node exporter stays installed, stopped and disabled)."""
    if known_file_state(paths.NODE_EXPORTER_DROPIN)[1] is None:
        return
    systemd.service(name="Stop node exporter", service=paths.NODE_EXPORTER_SERVICE, running=False, enabled=False)
    for path in (paths.NODE_EXPORTER_DROPIN, paths.unit_path(paths.METRICS_SERVICE), paths.METRICS_CONFIG, paths.METRICS_SCRIPT, paths.METRICS_FILE):
        files.file(name=f"Remove {path}", path=path, present=False)
    systemd.daemon_reload(name="Reload systemd (metrics removed)")
