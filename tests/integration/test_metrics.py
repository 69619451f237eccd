"""Prometheus scrapes the testbed gateway: a real server (Debian's `prometheus`) on this machine,
configured by `camgate prometheus-config`, with camgate's alert rules loaded. One `up` series per
camera, a killed camera's going to 0 and back, and nobody but metrics_from with the password."""

import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import phase
from tests.integration.conftest import INVENTORY
from tests.integration.prometheus import Prometheus, running_prometheus, scrape_configs
from tests.integration.test_firewall import DOC_NETWORK, connects
from tests.testbed.proc import wait_until
from tests.testbed.zoo import DEFAULT_KIND, KINDS

KILLED = "cam1"  # hls_time 1: stale after 5 s
# Camera killed -> its up series 0: stale after 3 segments + 2 s, the health timer (10 s), a scrape
# (2 s). Back -> 1: the unit's next retry, a segment, the health timer, a scrape.
DOWN_WITHIN = 60
BACK_WITHIN = 90


@pytest.fixture(scope="module")
def prometheus(deployer, first_deploy, state, acme_root, tmp_path_factory):
    folder = tmp_path_factory.mktemp("prometheus")
    with running_prometheus(folder, scrape_configs(INVENTORY, deployer.env, state["metrics"]["password"], acme_root, folder)) as prom:
        yield prom


def scrape_ok(prom: Prometheus, state) -> bool:
    return prom.values('up{job="camgate"}', "gateway") == {state["name"]: 1.0}


@pytest.mark.every_release
def test_one_up_series_per_camera_all_1(prometheus, gateway, state, host):
    cameras = {c.id for c in gateway.enabled_cameras}
    with phase("prometheus: first scrape with every camera up"):
        assert wait_until(lambda: prometheus.values('camgate_camera_up{job="camgate"}', "camera") == dict.fromkeys(cameras, 1.0),
                          timeout=120, interval=1), prometheus.values("camgate_camera_up", "camera")  # fmt: skip
    assert scrape_ok(prometheus, state)
    # node exporter read camgate's file without error, and serves the host's own metrics beside it
    assert prometheus.values('node_textfile_scrape_error{job="camgate"}', "job") == {"camgate": 0.0}
    assert prometheus.query('node_memory_MemAvailable_bytes{job="camgate"}')
    # scraped dozens of times by now: the hardened exporter never fell over (a seccomp kill would)
    assert host.check_output("systemctl show -p NRestarts --value prometheus-node-exporter") == "0"


@pytest.mark.every_release
def test_recordings_certificate_webrtc_and_deploy_are_reported(prometheus, gateway):
    recording = {c.id for c in gateway.recording_cameras}
    assert wait_until(lambda: set(prometheus.values("camgate_recordings_files > 0", "camera")) == recording, timeout=120, interval=2)
    ratio = prometheus.values("camgate_recordings_budget_used_ratio", "job")["camgate"]
    assert 0 < ratio < 1
    expiry = prometheus.values("camgate_tls_certificate_expiry_timestamp_seconds", "job")["camgate"]
    assert expiry > time.time() + 86400  # pebble's certificates live for days
    deployed = prometheus.values("camgate_deploy_timestamp_seconds", "job")["camgate"]
    assert time.time() - 86400 < deployed <= time.time()
    webrtc = {c.id for c in gateway.webrtc_cameras}
    assert set(prometheus.values("camgate_webrtc_viewers", "camera")) == webrtc
    # What the camera sends: the testbed's cam1 encodes for 1064 kbit/s, video and audio (zoo.KINDS);
    # the metric is the rate of the segments on the gateway, which copy it.
    rate = prometheus.values(f'camgate_stream_input_bytes_per_second{{camera="{KILLED}",stream="main"}}', "camera")[KILLED]
    sent = KINDS[DEFAULT_KIND].bitrate_kbps * 1000 / 8
    assert 0.6 * sent < rate < 1.4 * sent, (rate, sent)
    assert prometheus.values(f'camgate_stream_target_duration_seconds{{camera="{KILLED}"}}', "camera") == {KILLED: 1.0}


def test_a_killed_camera_goes_to_0_and_back_to_1(prometheus, testbed):
    up = f'camgate_camera_up{{job="camgate",camera="{KILLED}"}}'
    assert wait_until(lambda: prometheus.values(up, "camera") == {KILLED: 1.0}, timeout=90, interval=1)
    testbed.kill_camera(KILLED)
    start = time.monotonic()
    try:
        assert wait_until(lambda: prometheus.values(up, "camera") == {KILLED: 0.0}, timeout=DOWN_WITHIN, interval=0.5)
        print(f"\nmetrics: {KILLED} killed -> camgate_camera_up 0 after {time.monotonic() - start:.1f} s (bound {DOWN_WITHIN} s)")
        # The alert rules see it: down or stalled, pending until it has lasted a minute.
        assert wait_until(lambda: bool(prometheus.query(f'ALERTS{{camera="{KILLED}",alertstate="pending"}}')), timeout=30, interval=0.5)
    finally:
        testbed.start_camera(KILLED)
    start = time.monotonic()
    assert wait_until(lambda: prometheus.values(up, "camera") == {KILLED: 1.0}, timeout=BACK_WITHIN, interval=0.5)
    print(f"metrics: {KILLED} back -> camgate_camera_up 1 after {time.monotonic() - start:.1f} s (bound {BACK_WITHIN} s)")


def scrape(state, gateway, address: str, password: str, acme_root: Path) -> int:
    """HTTP status of GET /metrics (curl, verifying the certificate for the domain); 0 if no answer."""
    result = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "--cacert", str(acme_root),
         "--resolve", f"{gateway.domain}:{gateway.metrics_port}:{address}", "-u", f"{state['metrics']['user']}:{password}",
         f"https://{gateway.domain}:{gateway.metrics_port}/metrics"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    return int(result.stdout or 0)


def test_only_metrics_from_with_the_password_may_scrape(prometheus, deployer, host, state, gateway, acme_root):
    address, password = state["target_address"], state["metrics"]["password"]
    assert scrape(state, gateway, address, password, acme_root) == 200
    assert scrape(state, gateway, address, password + "x", acme_root) == 401
    # From the gateway itself (not in metrics_from), with the right password: nginx refuses.
    inside = host.run(
        f"curl -sk -o /dev/null -w '%{{http_code}}' -u {state['metrics']['user']}:{password} https://127.0.0.1:{gateway.metrics_port}/metrics"
    )
    assert inside.stdout == "403"
    # node exporter itself listens on loopback only
    assert not connects(address, 9101)
    try:
        with phase("deploy with metrics_from elsewhere"):
            deployer.run(metrics_from=[DOC_NETWORK])
        with pytest.raises(TimeoutError):  # the firewall drops this machine's scrapes now
            socket.create_connection((address, gateway.metrics_port), timeout=3).close()
        assert wait_until(lambda: prometheus.values('up{job="camgate"}', "job") == {"camgate": 0.0}, timeout=60, interval=1)
    finally:
        deployer.run(metrics_from=[state["host_address"]])
    assert wait_until(lambda: scrape_ok(prometheus, state), timeout=60, interval=1)
