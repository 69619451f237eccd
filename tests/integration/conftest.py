"""The integration suite's testbed: brought up once per run, deployed to, torn down at the end."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
import testinfra

from camgate.inventory import load_gateways
from tests.players.hls import Client
from camgate.paths import LINK_SECRET_CONF
from camgate.signing import PLAYLIST, parse_link_secret_conf, signed_path
from tests.testbed import Testbed, pebble
from tests.testbed.rootfs import DEFAULT_SUITE
from tests.conftest import PHASES, phase

ROOT = Path(__file__).resolve().parents[2]
# The Debian release of the testbed host: $CAMGATE_TEST_SUITE (bookworm, the default, or trixie).
# Each suite has its own state folder and testbed index, so both can run at once; the demo uses
# index 0 and tests never disturb it. $CAMGATE_TEST_TESTBED_INDEX overrides the index (0..15).
SUITE = os.environ.get("CAMGATE_TEST_SUITE") or DEFAULT_SUITE
STATE_DIR = ROOT / (".testbed-test" if SUITE == DEFAULT_SUITE else f".testbed-test-{SUITE}")
TESTBED_INDEX = int(os.environ.get("CAMGATE_TEST_TESTBED_INDEX") or (7 if SUITE == DEFAULT_SUITE else 6))
INVENTORY = "inventory/testbed.py"
# On any other release than bookworm only the tests marked every_release run (see
# docs/testbed.md, "Releases"): the subset that proves every role there.
EVERY_RELEASE = "every_release"


# The camera zoo's gateway (a testbed of its own) comes first and goes before this suite's host comes
# up: its dozen simulated cameras and the three of this host would otherwise share the 2 cores.
# Then the suite tells one story on one host: what a fresh deploy guarantees first, then what
# survives faults, changes and reboots, then certificate changes (which switch TLS modes) last.
FILE_ORDER = (
    "test_camera_zoo",
    "test_live_gateway",
    "test_players",
    "test_webrtc",
    "test_access",
    "test_no_secret_leaks",
    "test_recordings",
    "test_metrics",
    "test_firewall",
    "test_cli",
    "test_onvif",
    "test_discover",
    "test_edges",
    "test_faults",
    "test_safe_changes",
    "test_redeploy",
    "test_tls",
)


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        stem = Path(str(item.fspath)).stem
        return FILE_ORDER.index(stem) if stem in FILE_ORDER else len(FILE_ORDER)

    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
            if SUITE != DEFAULT_SUITE and not item.get_closest_marker(EVERY_RELEASE):
                item.add_marker(pytest.mark.skip(reason=f"on {SUITE} only the {EVERY_RELEASE} subset runs"))
    items.sort(key=lambda item: ("integration" in str(item.fspath), rank(item) if "integration" in str(item.fspath) else 0))


def grand_total(output: str) -> dict[str, str]:
    """pyinfra's own summary row: Grand total <hosts> <success> <error> <no change>."""
    match = re.search(r"Grand total\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", output)
    assert match, f"no pyinfra summary in:\n{output}"
    return dict(zip(("hosts", "success", "error", "no_change"), match.groups()))


class Deployer:
    """Runs `pyinfra inventory/testbed.py deploy.py` the way a user does, against the test testbed.

    `run(cameras=[...], tls="selfsigned", alt_domains=[...])` changes the inventory the way a user
    edits it; a change stays in force for later runs, like an edited file."""

    SETTINGS = {
        "cameras": "CAMGATE_TESTBED_CAMERAS",
        "tls": "CAMGATE_TESTBED_TLS",
        "alt_domains": "CAMGATE_TESTBED_ALT_DOMAINS",
        "ssh_allow_from": "CAMGATE_TESTBED_SSH_ALLOW_FROM",
        "firewall": "CAMGATE_TESTBED_FIREWALL",
        "recordings_max_size": "CAMGATE_TESTBED_RECORDINGS_MAX_SIZE",
        "url_ttl": "CAMGATE_TESTBED_URL_TTL",
        "testbeds": "CAMGATE_TESTBED_DIR",
        "zoo_transcode": "CAMGATE_TESTBED_ZOO_TRANSCODE",
        "metrics_from": "CAMGATE_TESTBED_METRICS_FROM",
    }

    def __init__(self, state_dir: Path):
        self.env = {k: v for k, v in os.environ.items() if k not in self.SETTINGS.values()}
        self.env["CAMGATE_TESTBED_DIR"] = str(state_dir)

    def run(self, check: bool = True, verbose: bool = False, **changes) -> subprocess.CompletedProcess:
        for key, value in changes.items():
            self.env[self.SETTINGS[key]] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        env = self.env
        result = subprocess.run(
            self.argv(verbose),
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"deploy failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def argv(self, verbose: bool = False) -> list[str]:
        return [sys.executable, "-m", "pyinfra", "-y", *(["-vvv"] if verbose else []), INVENTORY, "deploy.py"]

    def gateway(self):
        """The gateway as the inventory declares it now."""
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)
        try:
            return load_gateways(ROOT / INVENTORY)[0]
        finally:
            os.environ.clear()
            os.environ.update(saved)


@pytest.fixture(scope="session")
def testbed():
    if os.geteuid() != 0:
        pytest.fail("the integration suite needs root (systemd-nspawn, network namespaces); run `make test` as root")
    bed = Testbed(state_dir=STATE_DIR, index=TESTBED_INDEX, cameras=3, auth_cameras=("cam3",), acme=True, suite=SUITE)
    try:
        with phase(f"testbed up ({SUITE}: rootfs, network, boot, cameras)"):
            bed.up()
        for step in ("rootfs", "boot"):
            PHASES.append((f"  of which {step}", bed.timings.get(step, 0.0)))
        yield bed
    finally:
        with phase("testbed down"):
            bed.down()


@pytest.fixture(scope="session")
def state(testbed) -> dict:
    return json.loads((STATE_DIR / "state.json").read_text())


@pytest.fixture(scope="session")
def deployer(testbed) -> Deployer:
    return Deployer(STATE_DIR)


@pytest.fixture(scope="session")
def first_deploy(deployer) -> subprocess.CompletedProcess:
    with phase(f"first deploy ({SUITE} bare host)"):
        return deployer.run()


@pytest.fixture(scope="session")
def gateway(first_deploy, deployer):
    return deployer.gateway()


@pytest.fixture(scope="session")
def acme_root(testbed, state, tmp_path_factory) -> Path:
    """The root of the test ACME server (pebble makes a new one at each start)."""
    path = tmp_path_factory.mktemp("acme") / "pebble-root.pem"
    path.write_text(pebble.fetch_root(state["acme"]))
    return path


@pytest.fixture(scope="session")
def client(state, acme_root) -> Client:
    """An HTTPS client that reaches the testbed's DNS name at its address and trusts pebble's root."""
    return Client(connect_to=state["target_address"], cafile=str(acme_root))


@pytest.fixture
def link_secret(host) -> str:
    """The gateway's URL signing secret, read as root (fresh each time: a test may rotate it)."""
    secret = parse_link_secret_conf(host.file(LINK_SECRET_CONF).content_string)
    assert secret, f"no signing secret in {LINK_SECRET_CONF}"
    return secret


@pytest.fixture
def signed(gateway, link_secret):
    """signed(camera_id, file="stream.m3u8", ttl=600) -> URL, as the app gets it from the manifest."""

    def url_for(camera_id: str, file: str = PLAYLIST, ttl: int = 600, secret: str | None = None) -> str:
        expires = int(time.time()) + ttl
        return gateway.base_url + signed_path(secret or link_secret, camera_id, expires, file)

    return url_for


@contextmanager
def resolving(state: dict) -> Iterator[list[str]]:
    """A command prefix that runs a program with the testbed's DNS name resolving to the testbed host,
    for that one process (a private mount namespace with its own /etc/hosts)."""
    with tempfile.NamedTemporaryFile("w", suffix=".hosts") as hosts:
        hosts.write(f"127.0.0.1 localhost\n{state['target_address']} {state['domain']}\n")
        hosts.flush()
        yield ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', hosts.name]


def ffprobe_url(url: str, state: dict, entries: str, timeout: float = 90) -> dict:
    """ffprobe (a real HLS client: playlist, segments, AES keys) reading `url`, by the testbed's DNS
    name (see `resolving`). Returns ffprobe's JSON, or {} when it cannot read the stream."""
    with resolving(state) as prefix:
        result = subprocess.run(
            [*prefix, "ffprobe", "-v", "error", "-show_entries", entries, "-of", "json", url], capture_output=True, text=True, timeout=timeout
        )
    return json.loads(result.stdout) if result.returncode == 0 else {}


def probe_stream(url: str, state: dict) -> dict:
    """The first video stream of an HLS URL as a player sees it ({} when unreadable)."""
    streams = ffprobe_url(url, state, "stream=codec_type,codec_name,width,height").get("streams", [])
    video = [s for s in streams if s.get("codec_type") == "video"]
    return {k: v for k, v in video[0].items() if k != "codec_type"} if video else {}


@pytest.fixture(scope="session")
def host(first_deploy, state):
    return testinfra.get_host(f"ssh://{state['ssh_alias']}", ssh_config=state["ssh_config"])
