"""A gateway testbed with a caching edge testbed in front of it (docs/edges.md), for the edge
tests and bench.edge: both hosts up, the edge let through to the gateway's origin port."""

from __future__ import annotations

import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from camgate import paths

from . import Testbed, network
from .inventory import ORIGIN_CA_FILE, ORIGIN_PORT


@contextmanager
def gateway_and_edge(
    gateway_dir: Path, edge_dir: Path, gateway_index: int, edge_index: int, cameras: int, edge_acme: bool = False
) -> Iterator[tuple[dict, dict]]:
    """(gateway state, edge state) while both testbeds are up; the edge has no simulated camera, and
    with `edge_acme` an ACME server of its own (Let's Encrypt mode, tests/testbed/inventory.py)."""
    gateway_bed = Testbed(gateway_dir, gateway_index, cameras=cameras, auth_cameras=())
    edge_bed = Testbed(edge_dir, edge_index, cameras=0, auth_cameras=(), acme=edge_acme)
    try:
        states = gateway_bed.up(), edge_bed.up()
        network.link(edge_bed.layout, gateway_bed.layout, ORIGIN_PORT)
        yield states
    finally:
        edge_bed.down()
        gateway_bed.down()


def read_ca(state: dict) -> str:
    """A testbed host's own CA (tls='selfsigned'), as `camgate tls-ca` prints it."""
    return ssh(state, f"cat {paths.TLS_SELFSIGNED_CA}/ca.pem")


def trust_gateway(gateway_state: dict, edge_dir: Path) -> None:
    """Save the gateway's CA where the edge's declaration names it (origin_ca): after the gateway's
    first deploy, before the edge's, as an operator does."""
    (edge_dir / ORIGIN_CA_FILE).write_text(read_ca(gateway_state))


def ssh(state: dict, command: str) -> str:
    return subprocess.run(
        ["ssh", "-F", state["ssh_config"], state["ssh_alias"], command], capture_output=True, text=True, timeout=60, check=True
    ).stdout
