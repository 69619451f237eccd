"""Capacity planning for a site: bandwidth in from cameras and out to viewers, and how many days of
recordings a disk holds, from probed bitrates where `camgate probe` saved them, else the inventory's
`bitrate_kbps` estimates."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from camgate.model import Camera, Gateway
from camgate.probe import expected_latency
from camgate.units import parse_duration, parse_size

DAY = 86400
# Share of one core (%) a camera with video="transcode" costs at 25 fps, by picture height: measured
# with `python -m bench.video_cost` on the CI machine kind (2 cores), libx264 veryfast, one thread.
TRANSCODE_CPU = ((360, 8.2), (720, 25.7), (1080, 55.5))
UNKNOWN_HEIGHT = 1080  # no probe yet: assume the common main-stream size


def transcode_cpu(height: int | None, fps: float | None) -> float:
    """Estimated share of one core for transcoding a camera: interpolated by height, scaled by fps."""
    height = height or UNKNOWN_HEIGHT
    points = list(TRANSCODE_CPU)
    if height <= points[0][0]:
        share = points[0][1] * height / points[0][0]
    elif height >= points[-1][0]:
        share = points[-1][1] * (height / points[-1][0]) ** 2
    else:
        (h1, c1), (h2, c2) = next((a, b) for a, b in zip(points, points[1:]) if a[0] <= height <= b[0])
        share = c1 + (c2 - c1) * (height - h1) / (h2 - h1)
    return round(share * (fps or 25) / 25, 1)


@dataclass(frozen=True)
class CameraPlan:
    gateway: str
    camera: str
    kbps: float
    source: str  # "probe" or "inventory"
    record: bool
    bytes_per_day: float
    retention_days: float
    retention: str
    latency_s: int  # expected glass-to-glass in a standard player, from hls_time and the probed keyframe interval
    transcode_cpu: float  # share of one core (%) for video="transcode", 0 when video is copied

    @property
    def bytes_for_retention(self) -> float:
        return self.bytes_per_day * self.retention_days if self.record else 0.0


@dataclass(frozen=True)
class SitePlan:
    cameras: list[CameraPlan]
    viewers: int
    disk_bytes: int | None

    @property
    def in_mbps(self) -> float:
        return sum(c.kbps for c in self.cameras) / 1000

    @property
    def out_mbps(self) -> float:
        """Every viewer watching every camera: the worst case for the uplink."""
        return self.in_mbps * self.viewers

    @property
    def bytes_per_day(self) -> float:
        return sum(c.bytes_per_day for c in self.cameras if c.record)

    @property
    def transcode_cpu(self) -> float:
        return sum(c.transcode_cpu for c in self.cameras)

    @property
    def days_held(self) -> float | None:
        if not self.disk_bytes or not self.bytes_per_day:
            return None
        return self.disk_bytes / self.bytes_per_day

    @property
    def bytes_needed(self) -> float:
        return sum(c.bytes_for_retention for c in self.cameras)

    def warnings(self) -> list[str]:
        problems = []
        if self.disk_bytes is not None and self.bytes_needed > self.disk_bytes:
            short = [c for c in self.cameras if c.record]
            longest = max((c.retention_days for c in short), default=0)
            problems.append(
                f"the disk budget holds {self.days_held:.1f} days of recordings, but retention asks for up to "
                f"{longest:.3g} days ({self.bytes_needed / 1024**3:.1f} GiB); the oldest recordings will be deleted "
                "early: raise recordings_max_size, add disk, or shorten retention"
            )
        return problems


def probe_file(inventory: str | Path) -> Path:
    """Where `camgate probe` keeps what it measured: beside the inventory, <site>.probe.json."""
    path = Path(inventory)
    return path.with_name(f"{path.stem}.probe.json")


def probed(inventory: str | Path) -> dict[str, dict[str, dict]]:
    """{gateway: {camera: what `camgate probe` measured (bitrate_kbps, keyframe_interval, ...)}}."""
    path = probe_file(inventory)
    return json.loads(path.read_text()) if path.is_file() else {}


def plan_camera(gateway: Gateway, camera: Camera, measurements: dict[str, dict[str, dict]]) -> CameraPlan:
    measured = measurements.get(gateway.host, {}).get(camera.id, {})
    kbps = float(measured.get("bitrate_kbps") or camera.bitrate_kbps)
    return CameraPlan(
        gateway=gateway.host,
        camera=camera.id,
        kbps=kbps,
        source="probe" if measured.get("bitrate_kbps") else "inventory",
        record=camera.record,
        bytes_per_day=kbps * 1000 / 8 * DAY,
        retention_days=(parse_duration(camera.retention) or 0) / DAY,
        retention=camera.retention,
        latency_s=expected_latency(camera.hls_time, measured.get("keyframe_interval")),
        transcode_cpu=transcode_cpu(measured.get("height"), measured.get("fps")) if camera.video == "transcode" else 0.0,
    )


def plan_site(gateways: list[Gateway], measurements: dict, viewers: int, disk: str | None = None) -> SitePlan:
    cameras = [plan_camera(gw, cam, measurements) for gw in gateways for cam in gw.enabled_cameras]
    budgets = [parse_size(disk)] if disk else [parse_size(gw.recordings_max_size) for gw in gateways if gw.recordings_max_size]
    disk_bytes = sum(b for b in budgets if b) if budgets else None
    return SitePlan(cameras, viewers, disk_bytes)
