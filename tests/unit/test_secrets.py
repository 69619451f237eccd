"""Secret references resolve from the secrets file or the environment, with clear errors."""

import os

import pytest

from camgate.inventory import camera, gateway
from camgate.model import InventoryError
from camgate.secrets import SecretError, resolve_secret


@pytest.fixture
def secrets_file(tmp_path):
    path = tmp_path / "site.secrets.toml"
    path.write_text('front = "p@ss:\\"word"\n')
    path.chmod(0o600)
    return path


def test_secret_and_env_references_resolve(secrets_file, monkeypatch):
    assert resolve_secret("secret:front", secrets_file) == 'p@ss:"word'
    monkeypatch.setenv("CAM_PW", "from-env")
    assert resolve_secret("env:CAM_PW", None) == "from-env"


def test_missing_key_names_the_file_and_the_fix(secrets_file):
    with pytest.raises(SecretError, match="add a line back"):
        resolve_secret("secret:back", secrets_file)


def test_world_readable_secrets_file_is_refused(secrets_file):
    secrets_file.chmod(0o644)
    with pytest.raises(SecretError, match="chmod 600"):
        resolve_secret("secret:front", secrets_file)


def test_inventory_fails_at_load_when_a_reference_does_not_resolve(secrets_file):
    os.environ.pop("NOPE_PW", None)
    cam = camera("front", url="rtsp://10.0.0.2/x", username="u", password_ref="env:NOPE_PW")
    with pytest.raises(InventoryError, match="host 'gw1' camera 'front': field 'password_ref': environment variable 'NOPE_PW'"):
        gateway("gw1", tls="off", secrets_file=str(secrets_file), cameras=[cam])


def test_gateway_data_holds_the_reference_not_the_password(secrets_file):
    cam = camera("front", url="rtsp://10.0.0.2/x", username="u", password_ref="secret:front")
    host, data = gateway("gw1", tls="off", secrets_file=str(secrets_file), cameras=[cam])
    assert "p@ss" not in repr(data)
    assert data["camgate"]["cameras"][0]["password_ref"] == "secret:front"
