"""Viewers per gateway: requests/s and p99 latency for playlists and segments over HTTPS, plain
static files vs signed URLs (nginx secure_link), on the demo testbed's own loopback with wrk.

Adds a throwaway server on 127.0.0.1:8443 (same certificate and TLS settings, no signature check)
and a copy of one segment, runs wrk inside the gateway for DURATION seconds per case, then removes
both. Bounded: 4 cases x DURATION. Needs `make demo`.

    python -m bench.viewers [--seconds 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import time
from pathlib import Path

from camgate.inventory import load_inventory
from camgate.remote import link_secret
from camgate.signing import signed_path

STATE = Path(".testbed/state.json")
PLAIN_SITE = "/etc/nginx/conf.d/zz-bench-plain.conf"
CAMERA = "cam1"
SEGMENT = "bench-seg.m4s"  # cam1 writes fMP4 segments
PLAIN_CONF = """server {
    listen 127.0.0.1:8443 ssl;
    ssl_certificate /etc/camgate/tls/current/fullchain.pem;
    ssl_certificate_key /etc/camgate/tls/current/privkey.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location /plain/ { alias /run/camgate/hls/; }
}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    state = json.loads(STATE.read_text())
    (gateway, data), = load_inventory("inventory/testbed.py")
    secret = link_secret(gateway, data)
    ssh = ["ssh", "-F", state["ssh_config"], state["ssh_alias"]]

    def remote(command: str, **kwargs) -> str:
        return subprocess.run([*ssh, command], capture_output=True, text=True, check=True, **kwargs).stdout

    remote("command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk >/dev/null")
    remote(f"cat > {PLAIN_SITE} && nginx -t -q && systemctl reload nginx", input=PLAIN_CONF)
    hls = f"/run/camgate/hls/{CAMERA}"
    remote(f"cp \"{hls}/$(ls -t {hls} | grep '^seg-.*\\.m4s$' | sed -n 2p)\" {hls}/{SEGMENT} && chmod 644 {hls}/{SEGMENT}")
    time.sleep(1)
    expires = int(time.time()) + 3600
    cases = {
        ("playlist", "plain"): f"https://127.0.0.1:8443/plain/{CAMERA}/stream.m3u8",
        ("playlist", "signed"): f"https://127.0.0.1:443{signed_path(secret, CAMERA, expires)}",
        ("segment", "plain"): f"https://127.0.0.1:8443/plain/{CAMERA}/{SEGMENT}",
        ("segment", "signed"): f"https://127.0.0.1:443{signed_path(secret, CAMERA, expires, SEGMENT)}",
    }
    results = {}
    try:
        for (kind, mode), url in cases.items():
            status = remote(f"curl -sk -o /dev/null -w '%{{http_code}}' '{url}'")
            assert status == "200", f"{kind} {mode}: HTTP {status}"
            out = remote(f"wrk -t1 -c{args.connections} -d{args.seconds}s --latency '{url}'", timeout=args.seconds + 60)
            rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
            p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
            p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
            results[(kind, mode)] = (rps, p99_ms)
    finally:
        remote(f"rm -f {PLAIN_SITE} {hls}/{SEGMENT} && nginx -t -q && systemctl reload nginx")
    print(f"wrk inside the gateway over loopback HTTPS: 1 thread, {args.connections} connections, {args.seconds} s per case")
    print(f"{'what':9} {'plain req/s':>12} {'signed req/s':>13} {'signed/plain':>13} {'plain p99 ms':>13} {'signed p99 ms':>14}")
    for kind in ("playlist", "segment"):
        (prps, pp99), (srps, sp99) = results[(kind, "plain")], results[(kind, "signed")]
        print(f"{kind:9} {prps:12.0f} {srps:13.0f} {srps / prps:13.2f} {pp99:13.2f} {sp99:14.2f}")


if __name__ == "__main__":
    main()
