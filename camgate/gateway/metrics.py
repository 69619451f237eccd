"""Prometheus metrics of the gateway, in the text exposition format, computed on the gateway.

Standard library only: this file is uploaded to /usr/local/lib/camgate/camgate-metrics and run by
camgate-metrics.service after every health run (camgate-health.timer, every 10 s) with the JSON
config the deploy writes (/etc/camgate/metrics.json):

    {"health": "/run/camgate/health/status.json",
     "retention": "/run/camgate/retention/summary.json" | null,
     "certificate": "fullchain.pem" | null,      (a systemd credential of the unit: the live certificate)
     "deploy_stamp": "/etc/camgate/deployed.json"}

It writes /run/camgate/metrics/camgate.prom atomically; the distribution's prometheus-node-exporter
serves that file (its textfile collector) beside the host's own metrics. Every figure comes from
what the health timer, the retention timer and the deploy already record: no camera is contacted.
docs/metrics.md lists the metrics; docs/examples/prometheus/ has alert rules for them.

    camgate-metrics CONFIG.json              print the metrics
    camgate-metrics CONFIG.json --out FILE   write them to FILE atomically (what the unit does)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone

STATES = ("up", "down", "stalled", "unplayable")
OPENSSL_TIMEOUT = 10

# name: (type, help). The order is the order of the output.
METRICS = {
    "camgate_metrics_timestamp_seconds": ("gauge", "When these metrics were computed (Unix time)."),
    "camgate_health_timestamp_seconds": ("gauge", "When the health timer last judged the cameras (Unix time)."),
    "camgate_camera_up": ("gauge", "1 while a player could play the camera's main stream, else 0."),
    "camgate_camera_state": ("gauge", "The camera's state (up, down, stalled, unplayable): 1 for the current one."),
    "camgate_stream_up": ("gauge", "1 while a player could play this stream of the camera (main or sub), else 0."),
    "camgate_stream_segment_age_seconds": ("gauge", "Age of the stream's newest HLS segment."),
    "camgate_stream_restarts_total": ("counter", "Automatic restarts of the stream's unit since it was last started by hand or by a deploy."),
    "camgate_stream_input_bytes_per_second": ("gauge", "Mean data rate of the stream's newest segments (what the camera sends, audio included): bit rate / 8."),
    "camgate_stream_segment_duration_seconds": ("gauge", "Mean duration of the stream's newest segments."),
    "camgate_stream_target_duration_seconds": ("gauge", "The stream's EXT-X-TARGETDURATION."),
    "camgate_webrtc_up": ("gauge", "1 while a WebRTC viewer would see the camera, else 0 (cameras with webrtc on)."),
    "camgate_webrtc_viewers": ("gauge", "WebRTC viewers of the camera now."),
    "camgate_recordings_bytes": ("gauge", "Bytes of the camera's recordings on disk."),
    "camgate_recordings_files": ("gauge", "Recording files of the camera on disk."),
    "camgate_recordings_oldest_timestamp_seconds": ("gauge", "Start of the camera's oldest recording (Unix time)."),
    "camgate_recordings_newest_timestamp_seconds": ("gauge", "When the camera's newest recording was last written (Unix time)."),
    "camgate_recordings_store_bytes": ("gauge", "Bytes of all recordings."),
    "camgate_recordings_budget_bytes": ("gauge", "Most the recordings may use: recordings_max_size, or what recordings_min_free leaves, whichever is smaller."),
    "camgate_recordings_budget_used_ratio": ("gauge", "Share of the recordings budget in use (0..1); retention deletes the oldest files at 1."),
    "camgate_recordings_scan_timestamp_seconds": ("gauge", "When the retention timer last went through the store (Unix time)."),
    "camgate_tls_certificate_expiry_timestamp_seconds": ("gauge", "When the certificate nginx serves expires (Unix time)."),
    "camgate_deploy_timestamp_seconds": ("gauge", "When a deploy last changed the gateway's declared configuration (Unix time)."),
    "camgate_deploy_info": ("gauge", "The camgate version of the last complete deploy (always 1)."),
}


def escape(value: object) -> str:
    """A label value: backslash, double quote and line feed escaped (the exposition format's rules)."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def sample(name: str, labels: dict, value: float | int) -> tuple[str, str]:
    text = ",".join(f'{key}="{escape(val)}"' for key, val in labels.items())
    return name, f"{name}{{{text}}} {number(value)}" if text else f"{name} {number(value)}"


def number(value: float | int | bool) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def camera_samples(health: dict) -> list[tuple[str, str]]:
    """Per camera and stream, from the health report (camgate/gateway/health.py)."""
    out = [sample("camgate_health_timestamp_seconds", {}, health["generated"])] if health.get("generated") else []
    for camera, report in sorted(health.get("cameras", {}).items()):
        out.append(sample("camgate_camera_up", {"camera": camera}, report.get("up") is True))
        status = report.get("status")
        out += [sample("camgate_camera_state", {"camera": camera, "state": state}, status == state) for state in STATES]
        streams = [("main", report)] + ([("sub", report["sub"])] if report.get("sub") else [])
        for stream, judged in streams:
            labels = {"camera": camera, "stream": stream}
            out.append(sample("camgate_stream_up", labels, judged.get("up") is True))
            if judged.get("newest_segment_age") is not None:
                out.append(sample("camgate_stream_segment_age_seconds", labels, judged["newest_segment_age"]))
            out.append(sample("camgate_stream_restarts_total", labels, judged.get("restarts") or 0))
            measured = judged.get("measured") or {}
            if measured.get("bitrate") is not None:
                out.append(sample("camgate_stream_input_bytes_per_second", labels, round(measured["bitrate"] / 8, 3)))
            for key, name in (
                ("segment_duration", "camgate_stream_segment_duration_seconds"),
                ("target_duration", "camgate_stream_target_duration_seconds"),
            ):
                if measured.get(key) is not None:
                    out.append(sample(name, labels, measured[key]))
        webrtc = report.get("webrtc")
        if webrtc:
            out.append(sample("camgate_webrtc_up", {"camera": camera}, webrtc.get("up") is True))
            out.append(sample("camgate_webrtc_viewers", {"camera": camera}, webrtc.get("viewers") or 0))
    return out


def recording_samples(summary: dict) -> list[tuple[str, str]]:
    """Per recording camera and for the store, from the retention timer's summary."""
    out = []
    for camera, entry in sorted(summary.get("cameras", {}).items()):
        labels = {"camera": camera}
        out.append(sample("camgate_recordings_bytes", labels, entry["bytes"]))
        out.append(sample("camgate_recordings_files", labels, entry["files"]))
        if entry.get("oldest") is not None:
            out.append(sample("camgate_recordings_oldest_timestamp_seconds", labels, entry["oldest"]))
        if entry.get("newest") is not None:
            out.append(sample("camgate_recordings_newest_timestamp_seconds", labels, entry["newest"]))
    store, budget = summary.get("store_bytes", 0), summary.get("budget_bytes", 0)
    out.append(sample("camgate_recordings_store_bytes", {}, store))
    out.append(sample("camgate_recordings_budget_bytes", {}, budget))
    out.append(sample("camgate_recordings_budget_used_ratio", {}, round(store / budget, 6) if budget else 1))
    if summary.get("generated"):
        out.append(sample("camgate_recordings_scan_timestamp_seconds", {}, summary["generated"]))
    return out


def certificate_expiry(path: str) -> float | None:
    """notAfter of a PEM certificate as Unix time (openssl reads it), None when unreadable."""
    try:
        result = subprocess.run(
            ["openssl", "x509", "-in", path, "-noout", "-enddate"], capture_output=True, text=True, timeout=OPENSSL_TIMEOUT
        )
    except (OSError, subprocess.SubprocessError):
        return None
    text = result.stdout.strip()
    if result.returncode != 0 or not text.startswith("notAfter="):
        return None
    # "notAfter=Mar  5 12:00:00 2027 GMT"
    stamp = datetime.strptime(" ".join(text.split("=", 1)[1].split()), "%b %d %H:%M:%S %Y %Z")
    return stamp.replace(tzinfo=timezone.utc).timestamp()


def deploy_samples(stamp_path: str) -> list[tuple[str, str]]:
    try:
        with open(stamp_path) as handle:
            stamp = json.load(handle)
        changed = os.stat(stamp_path).st_mtime
    except (OSError, ValueError):
        return []
    return [
        sample("camgate_deploy_timestamp_seconds", {}, round(changed, 3)),
        sample("camgate_deploy_info", {"version": stamp.get("version", "unknown")}, 1),
    ]


def read_json(path: str | None) -> dict | None:
    if not path:
        return None
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def collect(config: dict, now: float | None = None, credentials_dir: str | None = None) -> list[tuple[str, str]]:
    now = time.time() if now is None else now
    out = [sample("camgate_metrics_timestamp_seconds", {}, round(now, 3))]
    health = read_json(config.get("health"))
    if health:
        out += camera_samples(health)
    summary = read_json(config.get("retention"))
    if summary:
        out += recording_samples(summary)
    if config.get("certificate") and credentials_dir:
        expiry = certificate_expiry(os.path.join(credentials_dir, config["certificate"]))
        if expiry is not None:
            out.append(sample("camgate_tls_certificate_expiry_timestamp_seconds", {}, expiry))
    if config.get("deploy_stamp"):
        out += deploy_samples(config["deploy_stamp"])
    return out


def exposition(samples: list[tuple[str, str]]) -> str:
    """The text format: each metric's HELP and TYPE once, then its samples, in METRICS order."""
    lines = []
    for name, (kind, text) in METRICS.items():
        rows = [row for metric, row in samples if metric == name]
        if rows:
            lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", *rows]
    return "\n".join(lines) + "\n"


def write_atomically(path: str, text: str) -> None:
    """node exporter may read at any moment: it sees the old file or the new one, never half of one."""
    tmp = f"{path}.tmp"  # the textfile collector reads *.prom only
    with open(tmp, "w") as out:
        out.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 3) or (len(args) == 3 and args[1] != "--out"):
        print("usage: camgate-metrics CONFIG.json [--out FILE]", file=sys.stderr)
        return 2
    with open(args[0]) as handle:
        config = json.load(handle)
    text = exposition(collect(config, credentials_dir=os.environ.get("CREDENTIALS_DIRECTORY")))
    if len(args) == 3:
        write_atomically(args[2], text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
