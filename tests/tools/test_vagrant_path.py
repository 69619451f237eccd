"""The Vagrant path, as far as it can be checked without a VM: the inventory, the Vagrantfile, the
CI example. Needs `ruby` (make setup installs it): these tests fail, never skip, without it."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from camgate.inventory import load_inventory
from camgate.model import InventoryError

ROOT = Path(__file__).resolve().parents[2]
VAGRANTFILE = ROOT / "Vagrantfile"
WORKFLOW = ROOT / "docs/examples/github-actions-vagrant.yml"


def ruby() -> str:
    path = shutil.which("ruby")
    assert path, "ruby is missing: install it (`make setup` does, it is in the Makefile's HOST_PACKAGES)"
    return path


def test_vagrant_inventory_loads_and_validates(monkeypatch):
    monkeypatch.delenv("CAMGATE_VAGRANT_CAMERA_URL", raising=False)
    monkeypatch.delenv("CAMGATE_VAGRANT_CAMERA_USER", raising=False)
    [(gateway, data)] = load_inventory(ROOT / "inventory/vagrant.py")
    assert gateway.host == "@vagrant/camgate"  # pyinfra's connector: `vagrant ssh-config camgate`
    assert (gateway.tls, gateway.domain) == ("selfsigned", "192.168.56.10")
    # SSH goes to the VM's own address and port as root: the firewall role opens that port.
    assert (data["ssh_hostname"], data["ssh_port"], data["ssh_user"]) == ("192.168.56.10", 22, "root")
    [cam] = gateway.cameras
    assert cam.url == "rtsp://192.168.56.1:8554/cam1" and cam.password_ref is None


def test_vagrant_camera_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("CAMGATE_VAGRANT_CAMERA_URL", "rtsp://192.168.56.1:8554/lobby")
    monkeypatch.setenv("CAMGATE_VAGRANT_CAMERA_USER", "viewer")
    monkeypatch.delenv("CAMGATE_VAGRANT_CAMERA_PASSWORD", raising=False)
    with pytest.raises(InventoryError, match="CAMGATE_VAGRANT_CAMERA_PASSWORD"):
        load_inventory(ROOT / "inventory/vagrant.py")
    monkeypatch.setenv("CAMGATE_VAGRANT_CAMERA_PASSWORD", "camera-password")
    [(gateway, _data)] = load_inventory(ROOT / "inventory/vagrant.py")
    [cam] = gateway.cameras
    assert (cam.url, cam.username, cam.password_ref) == (
        "rtsp://192.168.56.1:8554/lobby", "viewer", "env:CAMGATE_VAGRANT_CAMERA_PASSWORD")  # fmt: skip


FAKE_VAGRANT = """#!/bin/sh
case "$1" in
  status) echo "1,camgate,provider-name,virtualbox"; echo "1,camgate,state,running";;
  ssh-config) printf 'Host camgate\\n  HostName 127.0.0.1\\n  User vagrant\\n  Port 2222\\n  IdentityFile /keys/camgate\\n\\n';;
  *) exit 1;;
esac
"""


# pyinfra's CLI patches threading with gevent when imported; a fresh interpreter keeps that away
# from the test process.
INVENTORY_AS_PYINFRA_SEES_IT = """
import json
from pyinfra.api import State
from pyinfra.context import ctx_state
from pyinfra_cli.inventory import make_inventory
with ctx_state.use(State()):
    [host] = list(make_inventory("inventory/vagrant.py", cwd="."))
print(json.dumps({"name": host.name, "groups": host.groups,
                  **{k: host.data.get(k) for k in ("ssh_hostname", "ssh_port", "ssh_user", "ssh_key")}}))
"""


def test_pyinfra_merges_the_connector_data_with_the_inventory(tmp_path):
    """pyinfra builds the host from `vagrant ssh-config` (a fake vagrant here), then the inventory's
    address, port and user win; the key is the connector's until .vagrant/ holds one."""
    (tmp_path / "vagrant").write_text(FAKE_VAGRANT)
    (tmp_path / "vagrant").chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    result = subprocess.run([sys.executable, "-c", INVENTORY_AS_PYINFRA_SEES_IT], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    host = json.loads(result.stdout.splitlines()[-1])
    assert host["name"] == "@vagrant/camgate" and "@vagrant" in host["groups"]
    assert (host["ssh_hostname"], host["ssh_port"], host["ssh_user"]) == ("192.168.56.10", 22, "root")
    if not (ROOT / ".vagrant").exists():
        assert host["ssh_key"] == "/keys/camgate"


def test_vagrantfile_is_valid_ruby_and_matches_the_inventory():
    result = subprocess.run([ruby(), "-c", str(VAGRANTFILE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "Syntax OK" in result.stdout, result.stderr
    text = VAGRANTFILE.read_text()
    assert 'config.vm.define "camgate"' in text  # MACHINE in inventory/vagrant.py
    # One box name for both providers: Debian's own box on Vagrant Cloud (libvirt and VirtualBox).
    assert 'ENV.fetch("CAMGATE_VAGRANT_BOX", "debian/bookworm64")' in text
    assert 'gw.vm.provider "virtualbox"' in text and 'gw.vm.provider "libvirt"' in text
    assert re.search(r'private_network", ip: "192\.168\.56\.10"', text)
    assert "vb.memory = 2048" in text and "lv.memory = 2048" in text
    assert "forwarded_port" not in text


def workflow() -> dict:
    # Ruby's YAML (Psych) ships with ruby: no Python YAML dependency for one test.
    script = "require 'yaml'; require 'json'; puts JSON.generate(YAML.safe_load(File.read(ARGV[0])))"
    result = subprocess.run([ruby(), "-e", script, str(WORKFLOW)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_ci_example_parses_and_runs_the_vagrant_path_in_order():
    flow = workflow()
    triggers = flow.get("on", flow.get("true"))  # YAML 1.1 reads a bare `on` as true
    assert "workflow_dispatch" in triggers
    [job] = flow["jobs"].values()
    assert job["runs-on"].startswith(("ubuntu", "macos"))
    runs = [step.get("run", "") for step in job["steps"]]
    wanted = ["vagrant up", "pip install -e .", "pyinfra -y inventory/vagrant.py deploy.py", "camgate verify inventory/vagrant.py"]
    positions = [next(i for i, run in enumerate(runs) if command in run) for command in wanted]
    assert positions == sorted(positions)
    destroy = next(step for step in job["steps"] if "vagrant destroy" in step.get("run", ""))
    assert destroy.get("if") == "always()"


def test_ci_example_is_not_a_workflow_of_this_repository():
    assert not (ROOT / ".github/workflows/github-actions-vagrant.yml").exists()
    assert "ruby" in re.search(r"HOST_PACKAGES :=(.*?)\n[^\t]", (ROOT / "Makefile").read_text(), re.DOTALL).group(1)
