"""Fixtures for the role tests (see harness.py): camera passwords in the environment, and a check
that no test leaves pyinfra's global context (state, inventory, host, config) set."""

import pytest
from pyinfra.context import ctx_config, ctx_host, ctx_inventory, ctx_state

from .sites import password_variable

CONTEXTS = (ctx_state, ctx_inventory, ctx_config, ctx_host)


@pytest.fixture(autouse=True)
def pyinfra_context_is_restored():
    before = [ctx.get() for ctx in CONTEXTS]
    yield
    after = [ctx.get() for ctx in CONTEXTS]
    for ctx, value in zip(CONTEXTS, before):
        ctx.set(value)
    assert after == before, "a deploy left pyinfra's global context set"


@pytest.fixture
def passwords(monkeypatch):
    """Set camera passwords (env:CAMGATE_TEST_PASSWORD_<ID>): ``passwords(front="...")``; every
    camera id used by the tests starts with the password 'pw-<id>'."""

    def set_passwords(**by_camera: str) -> None:
        for camera_id, password in by_camera.items():
            monkeypatch.setenv(password_variable(camera_id), password)

    set_passwords(**{cid: f"pw-{cid}" for cid in ("front", "back", "garage")})
    return set_passwords
