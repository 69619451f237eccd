"""What camgate hands to Prometheus, checked by Prometheus's own promtool (Debian's `prometheus`):
the alert rules and their unit tests, the metrics text the gateway writes, and the scrape config
`camgate prometheus-config` prints."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from camgate.gateway.metrics import collect, exposition
from camgate.passwords import hash_password
from tests.unit.test_metrics import HEALTH, NOW, SUMMARY

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "docs/examples/prometheus"

pytestmark = pytest.mark.skipif(not shutil.which("promtool"), reason="needs promtool (Debian's prometheus package; `make setup` installs it)")


def promtool(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", *args], input=stdin, capture_output=True, text=True, timeout=60, cwd=cwd)


def test_alert_rules_are_valid_and_their_unit_tests_pass():
    checked = promtool("check", "rules", "camgate-alerts.yml", cwd=RULES)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", "camgate-alerts.test.yml", cwd=RULES)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_has_a_unit_test():
    rules = (RULES / "camgate-alerts.yml").read_text()
    tests = (RULES / "camgate-alerts.test.yml").read_text()
    alerts = [line.split(":", 1)[1].strip() for line in rules.splitlines() if line.strip().startswith("- alert:")]
    assert len(alerts) >= 8
    untested = [name for name in alerts if f"alertname: {name}\n" not in tests]
    assert not untested


def test_the_metrics_text_passes_promtool(tmp_path):
    (tmp_path / "status.json").write_text(json.dumps(HEALTH))
    (tmp_path / "summary.json").write_text(json.dumps(SUMMARY))
    config = {"health": str(tmp_path / "status.json"), "retention": str(tmp_path / "summary.json")}
    text = exposition(collect(config, now=NOW))
    result = promtool("check", "metrics", stdin=text)
    # promtool lints too (naming, units); any complaint at all fails the test
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), result.stdout + result.stderr


def test_the_certificate_expiry_is_read_with_openssl(tmp_path):
    from camgate.gateway.metrics import certificate_expiry

    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "10",
         "-subj", "/CN=cams.example.com", "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    import time

    expiry = certificate_expiry(str(tmp_path / "cert.pem"))
    assert expiry is not None and abs(expiry - (time.time() + 10 * 86400)) < 120
    assert certificate_expiry(str(tmp_path / "key.pem")) is None


def test_the_printed_scrape_config_passes_promtool(tmp_path):
    secrets = tmp_path / "site.secrets.toml"
    secrets.write_text(f'metrics = "{hash_password("scrape password 1")}"\nurl = "{"u" * 32}"\nedge1 = "{"e" * 32}"\n')
    secrets.chmod(0o600)
    inventory = tmp_path / "site.py"
    inventory.write_text(
        "from camgate.inventory import camera, edge, edges_of, gateway\n"
        f"edge1 = edge('edge1.example.com', address='198.51.100.20', secret_ref='secret:edge1', acme_email='ops@example.com',\n"
        f"             secrets_file={str(secrets)!r}, metrics_from=['198.51.100.7'], metrics_password_ref='secret:metrics')\n"
        f"gw1 = gateway('gw1.example.com', domain='cams.example.com', acme_email='ops@example.com', secrets_file={str(secrets)!r},\n"
        "              metrics_from=['198.51.100.7'], metrics_password_ref='secret:metrics', url_secret_ref='secret:url', edges=[edge1],\n"
        "              cameras=[camera('front', url='rtsp://192.168.10.21/stream1')])\n"
        "gw1[1]['ssh_hostname'] = '10.0.0.5'\n"
        "gateways = [\n"
        "    gw1,\n"
        f"    gateway('gw2.example.com', tls='selfsigned', secrets_file={str(secrets)!r},\n"
        "            metrics_from=['198.51.100.7'], metrics_password_ref='secret:metrics', metrics_port=9443,\n"
        "            cameras=[camera('yard', url='rtsp://192.168.10.22/stream1')]),\n"
        "    gateway('gw3.example.com', acme_email='ops@example.com', cameras=[camera('gate', url='rtsp://192.168.10.23/stream1')]),\n"
        "]\n"
        "edges = edges_of(gateways)\n"
    )
    printed = subprocess.run(
        [sys.executable, "-m", "camgate.cli", "prometheus-config", str(inventory), "--address", "ssh",
         "--password-file", str(tmp_path / "{gateway}.password")],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    # The printed part is a scrape_configs: block, as a prometheus.yml can hold it.
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 30s\n" + printed.stdout)
    for host in ("gw1.example.com", "gw2.example.com", "edge1.example.com"):
        (tmp_path / f"{host}.password").write_text("scrape password 1\n")
    checked = promtool("check", "config", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    text = printed.stdout
    assert '"10.0.0.5:9100"' in text and '"gw2.example.com:9443"' in text  # ssh address where known, else the host name
    assert 'server_name: "cams.example.com"' in text
    assert 'ca_file: "/etc/prometheus/camgate/gw2.example.com-ca.pem"' in text  # selfsigned: its own CA
    assert "gw3" not in text  # serves no metrics
    assert text.count('job: "camgate"') == 2
    # An edge: its host and its traffic, both labelled with its name.
    assert 'job: "camgate-edge"' in text and 'job: "camgate-edge-cache"' in text and 'metrics_path: "/metrics/cache"' in text
    assert text.count('edge: "edge1.example.com"') == 2 and text.count('"edge1.example.com:9100"') == 2
