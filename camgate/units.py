"""Human units in inventories and on the command line: durations ("90s", "30m", "12h", "7d") and
sizes ("500M", "2T", "5%" of a disk)."""

from __future__ import annotations

import re

DURATION_RE = re.compile(r"^([0-9]{1,9})([smhd]?)$")
SIZE_RE = re.compile(r"^([0-9]{1,15})([KMGT]?)$")
PERCENT_RE = re.compile(r"^([0-9]{1,2})%$")
SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
BYTES = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def parse_duration(text: str) -> int | None:
    """'7d' -> 604800; a bare number is seconds; None when it is not a positive duration."""
    match = DURATION_RE.fullmatch(str(text).strip().lower())
    if not match or int(match.group(1)) == 0:
        return None
    return int(match.group(1)) * SECONDS[match.group(2)]


def parse_size(text: str) -> int | None:
    """'500G' -> bytes (binary units); None when it is not a positive size."""
    match = SIZE_RE.fullmatch(str(text).strip().upper())
    if not match or int(match.group(1)) == 0:
        return None
    return int(match.group(1)) * BYTES[match.group(2)]


def parse_min_free(text: str) -> tuple[str, int] | None:
    """'5%' -> ('percent', 5); '20G' -> ('bytes', 21474836480); None when neither."""
    match = PERCENT_RE.fullmatch(str(text).strip())
    if match:
        return ("percent", int(match.group(1))) if int(match.group(1)) > 0 else None
    size = parse_size(text)
    return ("bytes", size) if size else None


def format_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1024
    return f"{count:.1f} TiB"
