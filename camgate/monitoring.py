"""Prometheus's side of a fleet of gateways, worked out on the operator's machine: the scrape config
that `camgate prometheus-config` prints (docs/metrics.md).

The output is YAML made only of block mappings, lists and JSON-quoted strings (JSON strings are YAML
double-quoted scalars), so no YAML library is needed and every value is quoted safely.
"""

from __future__ import annotations

import json
from typing import Any

from camgate.model import Gateway

JOB = "camgate"


def scrape_target(gateway: Gateway, host_data: dict[str, Any], address: str) -> str:
    """host:port Prometheus connects to: the gateway's domain, or (address='ssh') the address pyinfra
    reaches it at, e.g. a management network or VPN; the certificate is checked for the domain either way."""
    host = gateway.domain if address == "domain" else str(host_data.get("ssh_hostname") or gateway.host)
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"{host}:{gateway.metrics_port}"


def scrape_config(
    entries: list[tuple[Gateway, dict[str, Any]]],
    password_file: str,
    ca_file: str | None,
    address: str = "domain",
    interval: str = "30s",
) -> str:
    """`scrape_configs:` with one job per gateway that serves metrics (its own password file and CA
    may differ), every target labelled job="camgate" and gateway="<host>" so one set of alert rules
    covers the fleet. `password_file` and `ca_file` may contain {gateway} (the host name)."""
    lines = ["scrape_configs:"]
    for gateway, data in entries:
        if not gateway.metrics:
            continue
        fill = lambda text: text.replace("{gateway}", gateway.host)  # noqa: E731
        ca = fill(ca_file) if ca_file else None
        if ca is None and gateway.tls == "selfsigned":
            ca = f"/etc/prometheus/camgate/{gateway.host}-ca.pem"  # `camgate tls-ca INVENTORY --out` it there
        lines += [
            f"  - job_name: {json.dumps(f'{JOB}-{gateway.host}')}",
            f"    scheme: {'https' if gateway.https else 'http'}",
            "    metrics_path: /metrics",
            f"    scrape_interval: {json.dumps(interval)}",
            "    basic_auth:",
            f"      username: {json.dumps(gateway.metrics_user)}",
            f"      password_file: {json.dumps(fill(password_file))}",
        ]
        if gateway.https:
            lines += ["    tls_config:", f"      server_name: {json.dumps(gateway.domain)}"]
            if ca:
                lines.append(f"      ca_file: {json.dumps(ca)}")
        lines += [
            "    static_configs:",
            f"      - targets: [{json.dumps(scrape_target(gateway, data, address))}]",
            "        labels:",
            f"          job: {json.dumps(JOB)}",
            f"          gateway: {json.dumps(gateway.host)}",
        ]
    return "\n".join(lines) + "\n"
