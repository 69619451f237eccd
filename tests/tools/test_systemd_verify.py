"""systemd-analyze (this machine's) accepts a camera unit rendered from hostile but valid values."""

import shutil
import subprocess
from pathlib import Path

import pytest

from camgate.render import render_camera_unit
from tests.unit.test_hostile_values import HOSTILE


def systemd_unit_dir() -> Path | None:
    for candidate in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")):
        if (candidate / "multi-user.target").exists():
            return candidate
    return None


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None or systemd_unit_dir() is None, reason="no systemd-analyze here"
)
def test_systemd_analyze_verify_accepts_the_hostile_unit(tmp_path):
    """systemd-analyze verify works without a running systemd when given a root: a copy of the
    distribution's units (for the targets the unit names) and stand-ins for the executables it runs."""
    root = tmp_path / "root"
    shutil.copytree(systemd_unit_dir(), root / "usr/lib/systemd/system", symlinks=True)
    for path in (root / "usr/local/lib/camgate/camgate-camera-run", root / "usr/local/lib/camgate/camgate-hls-key",
                 root / "bin/sh"):  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    unit_dir = root / "etc/systemd/system"
    unit_dir.mkdir(parents=True)
    camera = HOSTILE.cameras[0]
    unit = render_camera_unit(HOSTILE, camera, 5)
    (unit_dir / camera.unit_name).write_text(unit)
    # Control: the same unit with a line injected the way a newline in a value would, is reported.
    (unit_dir / "injected.service").write_text(
        unit.replace("\nRestart=", "\nExecStartPre=/bin/sh -c 'reboot\nRestart=", 1)
    )

    def verify(name: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["systemd-analyze", "verify", "--man=no", "--generators=no", f"--root={root}", name],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    result = verify(camera.unit_name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert camera.unit_name not in result.stdout + result.stderr  # no warning about the unit at all
    control = verify("injected.service")
    assert "injected.service" in control.stdout + control.stderr
