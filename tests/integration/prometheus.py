"""A real Prometheus server (Debian's `prometheus`) on this machine for the tests: configured with
what `camgate prometheus-config` prints and camgate's alert rules, queried over its HTTP API."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tests.integration.conftest import ROOT
from tests.testbed.proc import wait_until

PROMETHEUS_PORT = 19090
SCRAPE_INTERVAL = "2s"
RULES = ROOT / "docs/examples/prometheus/camgate-alerts.yml"


class Prometheus:
    def __init__(self, url: str):
        self.url = url

    def query(self, promql: str) -> list[dict]:
        """The instant vector of a PromQL query ([] on any error)."""
        address = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        try:
            with urllib.request.urlopen(address, timeout=10) as response:
                body = json.loads(response.read())
        except (OSError, ValueError):
            return []
        return body.get("data", {}).get("result", []) if body.get("status") == "success" else []

    def values(self, promql: str, label: str) -> dict[str, float]:
        return {series["metric"].get(label, ""): float(series["value"][1]) for series in self.query(promql)}

    def scalar(self, promql: str) -> float | None:
        """The value of a query that yields one series (None when it yields none)."""
        found = self.query(promql)
        return float(found[0]["value"][1]) if len(found) == 1 else None


def scrape_configs(inventory: str, env: dict, password: str, ca_file: Path, folder: Path) -> str:
    """What `camgate prometheus-config` prints for the inventory, scraping at the SSH addresses."""
    password_file = folder / "metrics.password"
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    return subprocess.run(
        [sys.executable, "-m", "camgate.cli", "prometheus-config", inventory, "--address", "ssh",
         "--password-file", str(password_file), "--ca-file", str(ca_file), "--interval", SCRAPE_INTERVAL],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip


@contextmanager
def running_prometheus(folder: Path, scrape_text: str) -> Iterator[Prometheus]:
    """Prometheus with these scrape configs and camgate's rules, until the block ends."""
    config = folder / "prometheus.yml"
    config.write_text(f"global:\n  evaluation_interval: {SCRAPE_INTERVAL}\nrule_files:\n  - {json.dumps(str(RULES))}\n{scrape_text}")
    log = open(folder / "prometheus.log", "w")
    server = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}",
         f"--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    prom = Prometheus(f"http://127.0.0.1:{PROMETHEUS_PORT}")
    try:
        ready = wait_until(lambda: server.poll() is None and bool(prom.query("vector(1)")), timeout=60, interval=0.5)
        assert ready, f"Prometheus did not start:\n{(folder / 'prometheus.log').read_text()[-3000:]}"
        yield prom
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
