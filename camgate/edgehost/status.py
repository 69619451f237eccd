"""A caching edge's state, computed on the edge for `camgate status` (sent over SSH and run by the
host's python3; standard library only). Reads a JSON request on stdin:

    {"https_port": 443, "domain": "live.example.com",
     "certificate": "/etc/camgate/tls/current/fullchain.pem",
     "traffic_url": "http://127.0.0.1:3903/metrics" | null,      (mtail, with metrics_from)
     "checks": [{"gateway": "gw1.example.com", "camera": "front", "path": "/s/<token>/<expires>/front/index.m3u8"}]}

and prints JSON: nginx's and mtail's unit states, the certificate's expiry, the traffic counters
(viewers' requests by cache status, the gateways' errors), and for each gateway the HTTP status the
edge answers a signed playlist of one of its cameras with, asked of the edge itself by its own name
and fetched from the gateway now: the path a viewer's request takes (the edge's check of the URL, its
credential, its gateway), with no cached copy to hide a gateway it cannot reach.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import subprocess
import sys
import urllib.request
from datetime import datetime, timezone

SAMPLE = re.compile(r'^(camgate_edge_[a-z_]+)\{([^}]*)\} ([0-9.e+-]+)$')
LABEL = re.compile(r'([a-z_]+)="([^"]*)"')
CACHED = ("HIT", "STALE", "UPDATING", "REVALIDATED")


def unit_state(unit: str) -> str:
    result = subprocess.run(["systemctl", "is-active", unit], capture_output=True, text=True)
    return result.stdout.strip() or "unknown"


def certificate_expiry(path: str) -> float | None:
    result = subprocess.run(["openssl", "x509", "-in", path, "-noout", "-enddate"], capture_output=True, text=True, timeout=10)
    if result.returncode != 0 or "=" not in result.stdout:
        return None
    stamp = datetime.strptime(" ".join(result.stdout.split("=", 1)[1].split()), "%b %d %H:%M:%S %Y %Z")
    return stamp.replace(tzinfo=timezone.utc).timestamp()


def traffic(text: str) -> dict:
    """Totals since mtail started: requests through the cache and how many it served, requests the
    edge refused, and per gateway its answers and errors. `camgate status`'s own checks (BYPASS) are
    no viewers' requests."""
    out = {"requests": 0, "cached": 0, "refused": 0, "origin_errors": {}, "origin_responses": {}}
    for line in text.splitlines():
        match = SAMPLE.match(line.strip())
        if not match:
            continue
        name, labels, value = match.group(1), dict(LABEL.findall(match.group(2))), float(match.group(3))
        if name == "camgate_edge_requests_total":
            if labels.get("cache") == "none":
                out["refused"] += value if labels.get("code") == "403" else 0
            elif labels.get("cache") != "BYPASS":
                out["requests"] += value
                out["cached"] += value if labels.get("cache") in CACHED else 0
        elif name == "camgate_edge_origin_errors_total":
            out["origin_errors"][labels.get("gateway", "")] = value
        elif name == "camgate_edge_origin_responses_total":
            out["origin_responses"].setdefault(labels.get("gateway", ""), {})[labels.get("code", "")] = value
    return out


def status_through_edge(domain: str, port: int, path: str, timeout: float = 10.0) -> str:
    """The HTTP status the edge answers `path` with, asked at 127.0.0.1 by its own name (its
    certificate is not what is checked here), or what went wrong."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=domain) as sock:
                # The header has the edge ask the gateway now, not answer from its cache (camgate-edge.conf).
                sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {domain}\r\nX-Camgate-Check: 1\r\nConnection: close\r\n\r\n".encode())
                head = sock.recv(64).decode("latin-1")
    except OSError as exc:
        return f"error: {exc}"
    parts = head.split(" ", 2)
    return parts[1] if len(parts) > 1 and parts[1].isdigit() else "error: no HTTP answer"


def report(request: dict) -> dict:
    out = {
        "nginx": unit_state("nginx.service"),
        "mtail": unit_state("mtail.service") if request.get("traffic_url") else None,
        "certificate_expiry": certificate_expiry(request["certificate"]),
        "traffic": None,
        "gateways": {},
    }
    if request.get("traffic_url"):
        try:
            with urllib.request.urlopen(request["traffic_url"], timeout=10) as answer:
                out["traffic"] = traffic(answer.read().decode())
        except OSError:
            pass
    for check in request["checks"]:
        answer = status_through_edge(request["domain"], request["https_port"], check["path"])
        out["gateways"][check["gateway"]] = {"camera": check["camera"], "status": answer}
    return out


def main() -> int:
    json.dump(report(json.load(sys.stdin)), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
