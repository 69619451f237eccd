"""Metrics for Prometheus: the distribution's node exporter on loopback, camgate's own metrics in its
textfile collector, served by nginx to the inventory's metrics_from (see roles/nginx.py); on a
caching edge also the distribution's mtail, counting the edge's traffic from its access log."""

from pathlib import Path

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import files, server, systemd
from pyinfra.operations.util import any_changed

from camgate import packages, paths
from camgate.gateway import metrics as metrics_module
from camgate.inventory import site_from_host
from camgate.model import Edge
from camgate.render import render
from roles.facts import known_file_state
from roles.operations import UNCHANGED, ensure_packages, ensure_running, put, put_many, restart_if_changed, was_running

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
    only (roles/firewall.py). On an edge, which has no health timer: camgate-metrics.timer runs the
    unit every minute (certificate, last deploy), and mtail (edge_traffic) counts the edge's requests.
    Without metrics_from: node exporter (and mtail) stopped and disabled, camgate's metrics files
    gone. Reads: metrics_from, tls, recordings (any camera with record)."""
    gateway = site_from_host(host)
    edge = isinstance(gateway, Edge)
    if not gateway.metrics:
        remove_metrics(edge)
        return
    running_before = was_running(paths.NODE_EXPORTER_SERVICE)
    dropin = node_exporter_dropin()  # put already by metrics_first_start (the same operation)
    ensure_packages("Install prometheus-node-exporter", packages.NODE_EXPORTER)
    certificate = CERTIFICATE_CREDENTIAL if gateway.https else None
    config = {
        "health": None if edge else paths.HEALTH_STATUS_FILE,
        "retention": paths.RETENTION_SUMMARY_FILE if gateway.recording_cameras else None,
        "certificate": certificate,
        "deploy_stamp": paths.DEPLOY_STAMP,
    }
    ops = put_many("Metrics files", [
        ("Gateway code metrics", paths.METRICS_SCRIPT, Path(metrics_module.__file__).read_text(), "0755", "root", "root"),
        ("Metrics settings", paths.METRICS_CONFIG, render("camgate/metrics.json.j2", config=config), "0644", "root", "root"),
        (f"Unit {paths.METRICS_SERVICE}", paths.unit_path(paths.METRICS_SERVICE),
         render(f"systemd/{paths.METRICS_SERVICE}.j2", certificate=certificate), "0644", "root", "root"),
        *([(f"Unit {paths.METRICS_TIMER}", paths.unit_path(paths.METRICS_TIMER), render(f"systemd/{paths.METRICS_TIMER}.j2"), "0644", "root", "root")]
          if edge else []),
    ])  # fmt: skip
    changed = [ops[paths.METRICS_SCRIPT], ops[paths.METRICS_CONFIG]]
    unit = ops[paths.unit_path(paths.METRICS_SERVICE)]
    timer = ops.get(paths.unit_path(paths.METRICS_TIMER), UNCHANGED)
    systemd.daemon_reload(name="Reload systemd (metrics units)", _if=any_changed(dropin, unit, timer))
    ensure_running("node exporter enabled and running", paths.NODE_EXPORTER_SERVICE)
    if edge:
        ensure_running("Metrics timer enabled and running", paths.METRICS_TIMER)
        edge_traffic()
    restart_if_changed("Restart node exporter (changed)", paths.NODE_EXPORTER_SERVICE, running_before, dropin)
    server.shell(
        name="Metrics now",
        commands=[f"systemctl start {paths.METRICS_SERVICE}"],
        _if=any_changed(*changed, unit),
    )


def edge_traffic() -> None:
    """Guarantees on an edge: mtail installed, enabled and running on 127.0.0.1:3903 only (camgate's
    drop-in, hardened; restarted when it or the program changed), with camgate's program reading
    the edge's access log: viewers' requests by cache status, bytes, the gateways' answers and errors."""
    running_before = was_running(paths.MTAIL_SERVICE)
    dropin, program = mtail_files()  # put already by metrics_first_start (the same operations)
    ensure_packages("Install mtail", packages.MTAIL)
    systemd.daemon_reload(name="Reload systemd (mtail drop-in)", _if=any_changed(dropin))
    ensure_running("mtail enabled and running", paths.MTAIL_SERVICE)
    restart_if_changed("Restart mtail (changed)", paths.MTAIL_SERVICE, running_before, dropin, program)


@deploy("camgate metrics: first-start files")
def metrics_first_start() -> None:
    """Guarantees, with metrics_from set: the files node exporter (and mtail on an edge) must find
    at their first start, which their packages begin at once: node exporter's drop-in (loopback
    only), mtail's drop-in and program. Put before roles.base.gateway_packages so that one apt run
    installs them too (camgate.packages.first_start_files)."""
    gateway = site_from_host(host)
    if not gateway.metrics:
        return
    node_exporter_dropin()
    if isinstance(gateway, Edge):
        mtail_files()


def node_exporter_dropin():
    return put(
        name="prometheus-node-exporter.service drop-in",
        content=render("systemd/prometheus-node-exporter.service.d/camgate.conf.j2"),
        dest=paths.NODE_EXPORTER_DROPIN,
    )


def mtail_files() -> tuple:
    dropin = put(
        name="mtail.service drop-in",
        content=render("systemd/mtail.service.d/camgate.conf.j2", program=paths.MTAIL_PROGRAM),
        dest=paths.MTAIL_DROPIN,
    )
    program = put(name="mtail program (edge traffic)", content=render("mtail/camgate-edge.mtail.j2"), dest=paths.MTAIL_PROGRAM)
    return dropin, program


def remove_metrics(edge: bool) -> None:
    """metrics_from emptied: stop serving (node exporter, and mtail on an edge, stay installed,
    stopped and disabled)."""
    if known_file_state(paths.NODE_EXPORTER_DROPIN)[1] is None:
        return
    services = {"node exporter": paths.NODE_EXPORTER_SERVICE}
    if edge:
        services.update({"the metrics timer": paths.METRICS_TIMER, "mtail": paths.MTAIL_SERVICE})
    for label, service in services.items():
        systemd.service(name=f"Stop {label}", service=service, running=False, enabled=False)
    leftovers = [paths.NODE_EXPORTER_DROPIN, paths.unit_path(paths.METRICS_SERVICE), paths.METRICS_CONFIG, paths.METRICS_SCRIPT, paths.METRICS_FILE]
    if edge:
        leftovers += [paths.unit_path(paths.METRICS_TIMER), paths.MTAIL_DROPIN, paths.MTAIL_PROGRAM]
    for path in leftovers:
        files.file(name=f"Remove {path}", path=path, present=False)
    systemd.daemon_reload(name="Reload systemd (metrics removed)")
