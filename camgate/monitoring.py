"""Prometheus's side of a fleet of gateways, worked out on the operator's machine: the scrape config
that `camgate prometheus-config` prints for gateways and their caching edges (docs/metrics.md).

The output is YAML made only of block mappings, lists and JSON-quoted strings (JSON strings are YAML
double-quoted scalars), so no YAML library is needed and every value is quoted safely.
"""

from __future__ import annotations

import json
from typing import Any

from camgate.model import Edge, Gateway

JOB = "camgate"


EDGE_JOB = "camgate-edge"  # an edge's node exporter and camgate's metrics (certificate, last deploy)
EDGE_CACHE_JOB = "camgate-edge-cache"  # an edge's traffic (mtail): cache status, its gateways' answers


def scrape_target(site: Gateway | Edge, host_data: dict[str, Any], address: str) -> str:
    """host:port Prometheus connects to: the host's domain, or (address='ssh') the address pyinfra
    reaches it at, e.g. a management network or VPN; the certificate is checked for the domain either way."""
    host = site.domain if address == "domain" else str(host_data.get("ssh_hostname") or site.host)
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"{host}:{site.metrics_port}"


def scrape_jobs(site: Gateway | Edge) -> list[tuple[str, str, dict[str, str]]]:
    """(job, metrics path, target labels) Prometheus scrapes the host by: one for a gateway, two for an edge."""
    if isinstance(site, Edge):
        labels = {"edge": site.host}
        return [(EDGE_JOB, "/metrics", labels), (EDGE_CACHE_JOB, "/metrics/cache", labels)]
    return [(JOB, "/metrics", {"gateway": site.host})]


def scrape_config(
    entries: list[tuple[Gateway | Edge, dict[str, Any]]],
    password_file: str,
    ca_file: str | None,
    address: str = "domain",
    interval: str = "30s",
) -> str:
    """`scrape_configs:` with one job per gateway that serves metrics and two per edge (their own
    password file and CA may differ), every target labelled job="camgate" and gateway="<host>", or
    job="camgate-edge"/"camgate-edge-cache" and edge="<host>", so one set of alert rules covers the
    fleet. `password_file` and `ca_file` may contain {gateway} (the host name, an edge's too)."""
    lines = ["scrape_configs:"]
    for site, data in entries:
        if not site.metrics:
            continue
        fill = lambda text: text.replace("{gateway}", site.host)  # noqa: E731
        ca = fill(ca_file) if ca_file else None
        if ca is None and site.tls == "selfsigned":
            ca = f"/etc/prometheus/camgate/{site.host}-ca.pem"  # `camgate tls-ca INVENTORY --out` it there
        for job, path, labels in scrape_jobs(site):
            lines += [
                f"  - job_name: {json.dumps(f'{job}-{site.host}')}",
                f"    scheme: {'https' if site.https else 'http'}",
                f"    metrics_path: {json.dumps(path)}",
                f"    scrape_interval: {json.dumps(interval)}",
                "    basic_auth:",
                f"      username: {json.dumps(site.metrics_user)}",
                f"      password_file: {json.dumps(fill(password_file))}",
            ]
            if site.https:
                lines += ["    tls_config:", f"      server_name: {json.dumps(site.domain)}"]
                if ca:
                    lines.append(f"      ca_file: {json.dumps(ca)}")
            lines += [
                "    static_configs:",
                f"      - targets: [{json.dumps(scrape_target(site, data, address))}]",
                "        labels:",
                f"          job: {json.dumps(job)}",
                *(f"          {name}: {json.dumps(value)}" for name, value in labels.items()),
            ]
    return "\n".join(lines) + "\n"
