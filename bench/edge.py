"""Viewers through a caching edge (docs/edges.md) against viewers straight at the gateway, in one run.

Brings up its own pair of testbeds (a gateway with one camera, index 12; an edge, index 13), deploys
the gateway, then gateway and edge, and runs N simulated viewers (tests.players.viewers: each its
own token, a playlist poll every 0.5 s and each new segment) at one camera for SECONDS, first at the
gateway, then through the edge. For each case it prints the requests viewers made, what reached the
gateway (requests and bytes, from its access logs), and the CPU the serving host spent on them:
nginx's, and on the edge also mtail's (it counts every request of the access log for the metrics),
as viewers per core of both. Bounded: two windows of SECONDS; the testbeds are taken down at the end.

    python -m bench.edge [--viewers 200] [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from bench.cameras import deploy
from camgate import paths
from camgate.secrets import resolve_secret
from camgate.signing import signed_path
from tests.players.hls import Client
from tests.players.viewers import run_viewers
from tests.testbed.edges import gateway_and_edge, read_ca, ssh, trust_gateway

GATEWAY_DIR = Path(".testbed-bench-gw").resolve()
EDGE_DIR = Path(".testbed-bench-edge").resolve()
CAMERA = "cam1"  # fMP4, 1 s segments (tests/testbed/inventory.py)
SERVING_UNITS = ("nginx.service", "mtail.service")  # mtail runs on the edge (its metrics), not on this gateway
# What a gateway's nginx sent: the viewers' requests (combined log, bytes after the status) or the edges'.
LOG_BYTES = {"/var/log/nginx/access.log": 10, paths.ORIGIN_ACCESS_LOG: 5}


def log_totals(state: dict, log: str) -> tuple[int, int]:
    """(lines, bytes sent) of one nginx access log on a testbed host."""
    field = LOG_BYTES[log]
    out = ssh(state, f"test -f {log} && awk '{{n++; b+=${field}}} END {{print n+0, b+0}}' {log} || echo 0 0")
    lines, sent = out.split()
    return int(lines), int(sent)


def unit_cpu(state: dict) -> dict[str, int]:
    """CPU microseconds each serving unit has used so far on a testbed host (0 for one not running)."""
    script = " ; ".join(f"echo {unit} $(sed -n 's/^usage_usec //p' /sys/fs/cgroup/system.slice/{unit}/cpu.stat 2>/dev/null)" for unit in SERVING_UNITS)
    used = {}
    for line in ssh(state, script).splitlines():
        unit, _, value = line.partition(" ")
        used[unit] = int(value or 0)
    return used


def measure(viewer: Client, urls: list[str], seconds: float, serving: dict, gateway: dict, log: str) -> dict:
    """Run the viewers; what they got, what the gateway sent, and the serving host's CPU (nginx, mtail)."""
    lines_before, bytes_before = log_totals(gateway, log)
    cpu_before, start = unit_cpu(serving), time.monotonic()
    tally = run_viewers(viewer, urls, seconds)
    elapsed, cpu_after = time.monotonic() - start, unit_cpu(serving)
    cores = {unit: (cpu_after[unit] - cpu_before[unit]) / 1e6 / elapsed for unit in SERVING_UNITS}
    lines, sent = log_totals(gateway, log)
    total = sum(cores.values())
    return {
        "requests": sum(tally.served.values()), "errors": sum(tally.errors.values()),
        "gateway_requests": lines - lines_before, "gateway_mbit": (sent - bytes_before) * 8 / elapsed / 1e6,
        "nginx_cores": cores["nginx.service"], "mtail_cores": cores["mtail.service"],
        "viewers_per_core": len(urls) / total if total else float("inf"),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    with gateway_and_edge(GATEWAY_DIR, EDGE_DIR, 12, 13, cameras=1) as (gateway, edge):
        env = {**os.environ, "CAMGATE_TESTBED_DIR": str(GATEWAY_DIR), "CAMGATE_TESTBED_WEBRTC": "off",
               "CAMGATE_TESTBED_METRICS_FROM": "off"}  # fmt: skip
        deploy(env)
        trust_gateway(gateway, EDGE_DIR)
        deploy({**env, "CAMGATE_TESTBED_EDGE_DIR": str(EDGE_DIR)})
        secret = resolve_secret("secret:url-signing", str(GATEWAY_DIR / "secrets.toml"))
        (EDGE_DIR / "edge-ca.pem").write_text(read_ca(edge))
        cases = {
            "at the gateway": (gateway, Client(connect_to=gateway["target_address"], cafile=str(EDGE_DIR / "origin-ca.pem"), timeout=10),
                               f"https://{gateway['target_address']}", "/var/log/nginx/access.log"),
            "through the edge": (edge, Client(connect_to=edge["target_address"], cafile=str(EDGE_DIR / "edge-ca.pem"), timeout=10),
                                 f"https://{edge['target_address']}", paths.ORIGIN_ACCESS_LOG),
        }  # fmt: skip
        print(f"{args.viewers} viewers of one camera (1 s segments) for {args.seconds:.0f} s per case, {os.cpu_count()} cores")
        print(f"{'case':>17} {'viewer req/s':>12} {'errors':>6} {'gateway req/s':>13} {'gateway req/viewer/min':>22} "
              f"{'gateway Mbit/s':>14} {'nginx cores':>11} {'mtail cores':>11} {'viewers/core':>12}")  # fmt: skip
        for name, (serving, client, base, log) in cases.items():
            url = lambda: base + signed_path(secret, CAMERA, int(time.time()) + 3600)  # noqa: E731
            client.wait_for_playlist(url(), timeout=90)
            r = measure(client, [url() for _ in range(args.viewers)], args.seconds, serving, gateway, log)
            print(f"{name:>17} {r['requests'] / args.seconds:12.0f} {r['errors']:6} {r['gateway_requests'] / args.seconds:13.1f} "
                  f"{r['gateway_requests'] / args.viewers / args.seconds * 60:22.2f} {r['gateway_mbit']:14.1f} {r['nginx_cores']:11.2f} "
                  f"{r['mtail_cores']:11.2f} {r['viewers_per_core']:12.0f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
