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
    )


def plan_site(gateways: list[Gateway], measurements: dict, viewers: int, disk: str | None = None) -> SitePlan:
    cameras = [plan_camera(gw, cam, measurements) for gw in gateways for cam in gw.enabled_cameras]
    budgets = [parse_size(disk)] if disk else [parse_size(gw.recordings_max_size) for gw in gateways if gw.recordings_max_size]
    disk_bytes = sum(b for b in budgets if b) if budgets else None
    return SitePlan(cameras, viewers, disk_bytes)
