"""pyinfra itself (a subprocess, as a user runs it) stops on a bad inventory before any connection."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_pyinfra_stops_on_a_bad_inventory_with_one_line(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from camgate.inventory import camera, gateway\n"
        "gateways = [gateway('gw1.invalid', cameras=[camera('cam1', url='rtsp://10.0.0.2/x', hls_time=0)])]\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pyinfra", "-y", str(bad), "deploy.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "host 'gw1.invalid' camera 'cam1': field 'hls_time': 0 is out of range" in output
    assert "Connecting" not in output and "Traceback" not in output
