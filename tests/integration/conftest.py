"""The integration suite's testbed: brought up once per run, deployed to, torn down at the end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import testinfra

from camgate.inventory import load_gateways
from camgate.testbed import Testbed
from tests.conftest import phase

ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = ROOT / ".testbed-test"
TESTBED_INDEX = 7  # the demo uses index 0; tests never disturb a running demo
INVENTORY = "inventory/testbed.py"


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


class Deployer:
    """Runs `pyinfra inventory/testbed.py deploy.py` the way a user does, against the test testbed."""

    def __init__(self, state_dir: Path):
        self.env = {**os.environ, "CAMGATE_TESTBED_DIR": str(state_dir)}

    def run(self, cameras: list[str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
        env = dict(self.env)
        env.pop("CAMGATE_TESTBED_CAMERAS", None)
        if cameras is not None:
            env["CAMGATE_TESTBED_CAMERAS"] = ",".join(cameras)
        result = subprocess.run(
            [sys.executable, "-m", "pyinfra", "-y", INVENTORY, "deploy.py"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"deploy failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def gateway(self):
        os.environ["CAMGATE_TESTBED_DIR"] = self.env["CAMGATE_TESTBED_DIR"]
        return load_gateways(ROOT / INVENTORY)[0]


@pytest.fixture(scope="session")
def testbed():
    if os.geteuid() != 0:
        pytest.fail("the integration suite needs root (systemd-nspawn, network namespaces); run `make test` as root")
    bed = Testbed(state_dir=STATE_DIR, index=TESTBED_INDEX, cameras=3, auth_cameras=("cam3",))
    try:
        with phase("testbed up (rootfs, network, boot, cameras)"):
            bed.up()
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
    with phase("first deploy (bare host)"):
        return deployer.run()


@pytest.fixture(scope="session")
def gateway(first_deploy, deployer):
    return deployer.gateway()


@pytest.fixture(scope="session")
def host(first_deploy, state):
    return testinfra.get_host(f"ssh://{state['ssh_alias']}", ssh_config=state["ssh_config"])
