"""Turn a running testbed (see camgate.testbed) into gateway declarations for inventory/testbed.py."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from camgate.inventory import camera, gateway
from camgate.model import InventoryError

DEFAULT_STATE_DIR = ".testbed"
# A spread of settings across the simulated cameras, so the deploy exercises each code path.
CAMERA_SETTINGS = (
    {"audio": "copy", "hls_time": 1},
    {"audio": "aac", "hls_time": 2},
    {"audio": "none", "hls_time": 1, "hls_list_size": 5},
)


def read_state(state_dir: str | Path) -> dict[str, Any]:
    path = Path(state_dir) / "state.json"
    if not path.is_file():
        raise InventoryError([f"testbed state {str(path)!r} not found; fix: run `camgate testbed up` (or `make demo`) first"])
    return json.loads(path.read_text())


def testbed_gateway(state_dir: str | Path | None = None, only: list[str] | None = None) -> tuple[str, dict[str, Any]]:
    """The testbed host with its simulated cameras; `only` (or $CAMGATE_TESTBED_CAMERAS=cam1,cam2) keeps a subset."""
    state_dir = Path(state_dir or os.environ.get("CAMGATE_TESTBED_DIR", DEFAULT_STATE_DIR)).resolve()
    state = read_state(state_dir)
    if only is None and os.environ.get("CAMGATE_TESTBED_CAMERAS"):
        only = [c for c in os.environ["CAMGATE_TESTBED_CAMERAS"].split(",") if c]
    cameras = []
    for index, cam in enumerate(state["cameras"]):
        if only is not None and cam["id"] not in only:
            continue
        settings = CAMERA_SETTINGS[index % len(CAMERA_SETTINGS)]
        credentials = {"username": cam["username"], "password_ref": f"secret:{cam['id']}"} if cam.get("password") else {}
        cameras.append(camera(cam["id"], url=cam["url"], name=f"Testbed {cam['id']}", **credentials, **settings))
    host, data = gateway(
        state["name"],
        domain=state["target_address"],
        secrets_file=str(state_dir / "secrets.toml"),
        ssh_user=state["ssh_user"],
        ssh_port=state.get("ssh_port", 22),
        ssh_key=state["ssh_key"],
        ssh_known_hosts_file=state["known_hosts"],
        cameras=cameras,
    )
    data["ssh_hostname"] = state["target_address"]
    return host, data
