"""Inventory files: the documented example loads, and a bad one stops pyinfra before any connection."""

import shutil
from pathlib import Path

import pytest

from camgate.inventory import load_gateways
from camgate.passwords import hash_password
from camgate.model import InventoryError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def prod_copy(tmp_path, monkeypatch):
    shutil.copy(ROOT / "inventory/prod.py", tmp_path / "prod.py")
    secrets = tmp_path / "prod.secrets.toml"
    hashed = hash_password("app-password-1")
    secrets.write_text(f'front-door = "s3cret"\napp-alice = "{hashed}"\napp-guard = "{hashed}"\nmetrics = "{hashed}"\n')
    secrets.chmod(0o600)
    monkeypatch.setenv("YARD_CAMERA_PASSWORD", "also-secret")
    return tmp_path / "prod.py"


def test_documented_example_loads(prod_copy):
    (gw,) = load_gateways(prod_copy)
    assert gw.host == "gw1.example.com" and gw.domain == "cams.example.com"
    assert [c.id for c in gw.cameras] == ["front-door", "yard"]
    assert [u.name for u in gw.app_users] == ["alice", "guard"] and gw.recording_cameras[0].retention == "14d"
    assert gw.metrics and gw.metrics_from == ("198.51.100.7/32",) and gw.metrics_user == "prometheus"


def test_metrics_need_a_password_hash(prod_copy):
    secrets = prod_copy.parent / "prod.secrets.toml"
    secrets.write_text(secrets.read_text().replace("metrics = ", "metrics-old = "))
    with pytest.raises(InventoryError, match=r"field 'metrics_password_ref': .*metrics"):
        load_gateways(prod_copy)


def test_example_without_its_secrets_names_the_missing_file(prod_copy):
    (prod_copy.parent / "prod.secrets.toml").unlink()
    with pytest.raises(InventoryError, match=r"camera 'front-door': field 'password_ref': secrets file .* does not exist"):
        load_gateways(prod_copy)


