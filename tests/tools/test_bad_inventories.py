"""Bad input stops everything before any host is touched.

Every file in tests/bad_inventories/ is a small inventory with one kind of mistake and the line the
error must carry (EXPECT). For each of them, run as a user would:

- `camgate validate FILE` exits 2 and prints exactly one `error:` line per problem, no traceback;
- `pyinfra -y FILE deploy.py` exits non-zero with the same line, no traceback, and opens no SSH
  connection: each inventory points its host's SSH (ssh_hostname/ssh_port) at a TCP listener this
  test opens on 127.0.0.1 for that one run, and the listener must count zero connections. The
  positive control (_control_valid.py, a valid inventory wired the same way) must make it count one.

The runs go through a small thread pool; the phase timing is printed at the end of the session.
"""

from __future__ import annotations

import ast
import os
import secrets
import select
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from camgate.passwords import hash_password
from tests.conftest import phase

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "bad_inventories"
CASES = sorted(p for p in CORPUS.glob("*.py") if not p.name.startswith("_"))
CONTROL = CORPUS / "_control_valid.py"
HOST = "gw1.example.com"
EDGE = "edge1.example.com"  # the caching edge the edge cases declare
# Where an error line says the problem is: the gateway, or an edge of it.
PLACES = (f"host '{HOST}'", f"edge '{EDGE}'")
WORKERS = 4
TIMEOUT = 120
# Values the secrets files hold; the cases that must never print one say so (NOT_IN_OUTPUT).
CAMERA_PASSWORD = "s3cret"
PLAINTEXT_PASSWORD = "hunter2"
# Cases about one camera's value: their line names the camera too.
CAMERA_CASES = (
    "duplicate_camera", "id_", "name_", "url_", "hls_time", "hls_list", "retention_", "record_segment",
    "camera_key", "enabled_", "env_var", "secret_", "secrets_file", "plaintext_password", "password_ref",
)  # fmt: skip


def declared(path: Path) -> dict[str, object]:
    """A case's module-level constants, read without running it (running it calls gateway())."""
    values: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name.isupper():
                values[name] = ast.literal_eval(node.value)
    return values


class Listener:
    """A TCP listener on 127.0.0.1 that counts every connection made to it (and closes each at once,
    so an SSH client fails fast on the missing banner instead of waiting for it)."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0), backlog=16)
        self.port = self._sock.getsockname()[1]
        self._count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _accept_ready(self, timeout: float) -> bool:
        readable, _, _ = select.select([self._sock], [], [], timeout)
        if not readable:
            return False
        conn, _addr = self._sock.accept()
        conn.close()
        self._count += 1
        return True

    def _serve(self) -> None:
        while not self._stop.is_set():
            self._accept_ready(0.05)

    def close(self) -> int:
        """Stop, count what is still waiting in the backlog, and return the total."""
        self._stop.set()
        self._thread.join()
        while self._accept_ready(0):
            pass
        self._sock.close()
        return self._count


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    connections: int

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run(args: list[str], env: dict[str, str]) -> Run:
    listener = Listener()
    try:
        result = subprocess.run(
            args, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT,
            env={**env, "CAMGATE_TEST_SSH_PORT": str(listener.port)},
        )  # fmt: skip
    finally:
        connections = listener.close()
    return Run(result.returncode, result.stdout, result.stderr, connections)


def validate(path: Path, env: dict[str, str]) -> Run:
    return run([sys.executable, "-m", "camgate.cli", "validate", str(path)], env)


def deploy(path: Path, env: dict[str, str]) -> Run:
    return run([sys.executable, "-m", "pyinfra", "-y", str(path), "deploy.py"], env)


def make_secrets(folder: Path) -> None:
    """The secrets files the cases refer to (secrets files are never committed)."""
    folder.mkdir(mode=0o700)
    files = {
        "site.secrets.toml": (
            0o600,
            f'front = "{CAMERA_PASSWORD}"\n'
            f'alice = "{hash_password("correct horse battery")}"\n'
            f'metrics = "{hash_password("scrape password 1")}"\n'
            f'alice-plain = "{PLAINTEXT_PASSWORD}"\n'
            f'link = "{secrets.token_urlsafe(32)}"\n'
            f'edge-credential = "{secrets.token_urlsafe(32)}"\n',
        ),
        "world-readable.secrets.toml": (0o644, f'front = "{CAMERA_PASSWORD}"\n'),
        "broken.secrets.toml": (0o600, f"front = {CAMERA_PASSWORD}\n"),
    }
    for name, (mode, text) in files.items():
        path = folder / name
        path.write_text(text)
        path.chmod(mode)
    (folder / "folder.secrets.toml").mkdir(mode=0o700)
    # absent.secrets.toml is missing on purpose.


@pytest.fixture(scope="module")
def outcome(request, tmp_path_factory):
    """Run validate and pyinfra once on every selected case (and the control), in parallel."""
    mine = [item for item in request.session.items if item.module is request.module]
    selected = {item.callspec.params["path"] for item in mine if hasattr(item, "callspec")}
    if any(item.name.startswith("test_positive_control") for item in mine):
        selected.add(CONTROL)
    tmp = tmp_path_factory.mktemp("bad-inventories")
    secrets_dir = tmp / "secrets"
    make_secrets(secrets_dir)
    home = tmp / "home"  # no ~/.ssh/config of the machine running the tests can send pyinfra elsewhere
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "CAMGATE_TEST_UNSET_PASSWORD"}
    env.update(
        HOME=str(home),
        PYTHONPATH=str(ROOT),
        CAMGATE_TEST_SECRETS_DIR=str(secrets_dir),
        CAMGATE_TEST_EMPTY_PASSWORD="",
        CAMGATE_TEST_SET_PASSWORD=CAMERA_PASSWORD,
    )

    def both(path: Path) -> tuple[Path, Run, Run]:
        return path, validate(path, env), deploy(path, env)

    with phase(f"bad inventories: validate + pyinfra on {len(selected)} file(s), {WORKERS} at a time"):
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            runs = {path.name: (v, d) for path, v, d in pool.map(both, sorted(selected))}
    return {"runs": runs, "secrets_dir": str(secrets_dir.resolve())}


def expectation(path: Path, secrets_dir: str) -> tuple[str, int, str | None]:
    values = declared(path)
    expect = str(values["EXPECT"]).replace("{secrets_dir}", secrets_dir)
    return expect, int(values.get("PROBLEMS", 1)), values.get("NOT_IN_OUTPUT")  # type: ignore[return-value]


def case_params():
    params = []
    for path in CASES:
        known_bug = declared(path).get("KNOWN_BUG")
        marks = [pytest.mark.xfail(strict=True, reason=str(known_bug))] if known_bug else []
        params.append(pytest.param(path, id=path.stem, marks=marks))
    return params


def test_corpus_covers_every_class_and_each_case_says_what_the_error_names():
    assert len(CASES) >= 35
    for path in CASES:
        values = declared(path)
        expect = values.get("EXPECT")
        assert isinstance(expect, str), f"{path.name}: no EXPECT"
        assert expect.startswith(PLACES), f"{path.name}: EXPECT must name the host (or the edge)"
        assert "field '" in expect, f"{path.name}: EXPECT must name the field"
        if path.stem.startswith(CAMERA_CASES):
            assert f"host '{HOST}' camera '" in expect, f"{path.name}: EXPECT must name the camera"
        text = path.read_text(encoding="utf-8")
        assert "reach_listener(" in text and "gateway(" in text, f"{path.name}: not wired to the listener"
    stems = {p.stem for p in CASES}
    for needed in (
        "duplicate_camera_ids", "id_with_semicolon", "id_with_command_substitution", "id_with_backticks",
        "id_with_pipe", "id_with_newline", "id_with_dot_dot", "id_with_space", "id_with_cyrillic_lookalike",
        "id_too_long", "url_wrong_scheme", "url_no_host", "url_port_zero", "url_port_70000",
        "url_port_not_numeric", "url_embedded_credentials", "secret_key_absent", "env_var_unset",
        "secrets_file_missing", "secrets_file_world_readable", "plaintext_password_ref", "hls_time_zero",
        "retention_negative", "retention_zero", "hls_list_size_10000", "record_segment_5",
        "camera_key_typo_hls_tme", "camera_key_typo_retension", "hls_time_string", "enabled_yes",
        "cameras_not_a_list", "letsencrypt_with_ip_domain", "edge_address_not_an_ip", "edges_without_url_secret_ref", "letsencrypt_without_acme_email",
        "provided_without_paths", "app_user_unknown_camera", "app_user_plaintext_password_hash",
        "recordings_max_size_bad_unit", "recordings_min_free_over_100_percent", "ssh_allow_from_bad_prefix",
    ):  # fmt: skip
        assert needed in stems, f"corpus lacks {needed}"


@pytest.mark.parametrize("path", case_params())
def test_validate_prints_one_error_line_per_problem(path, outcome):
    result, _ = outcome["runs"][path.name]
    expect, problems, secret = expectation(path, outcome["secrets_dir"])
    assert "Traceback" not in result.output
    assert result.returncode == 2, result.output
    assert result.stdout == ""  # no "ok:", no partial listing
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith(tuple(f"error: {place}" for place in PLACES)) for line in lines), result.stderr
    assert len(lines) == problems, result.stderr
    assert any(expect in line for line in lines), f"{expect!r} not in:\n{result.stderr}"
    assert secret is None or secret not in result.output
    assert result.connections == 0


@pytest.mark.parametrize("path", case_params())
def test_pyinfra_stops_with_the_same_line_and_never_connects(path, outcome):
    _, result = outcome["runs"][path.name]
    expect, problems, secret = expectation(path, outcome["secrets_dir"])
    assert result.connections == 0, f"pyinfra connected {result.connections} time(s):\n{result.output}"
    assert result.returncode != 0
    assert "Traceback" not in result.output and "Connecting" not in result.output, result.output
    assert any(expect in line for line in result.output.splitlines()), f"{expect!r} not in:\n{result.output}"
    assert sum(any(place in line for place in PLACES) for line in result.output.splitlines()) == problems, result.output
    assert secret is None or secret not in result.output


def test_positive_control_valid_inventory_does_reach_the_listener(outcome):
    validated, deployed = outcome["runs"][CONTROL.name]
    assert validated.returncode == 0, validated.output
    assert validated.connections == 0  # validate never connects, even when the inventory is valid
    assert "Connecting to hosts" in deployed.output
    assert deployed.connections >= 1, deployed.output
    assert deployed.returncode != 0  # the listener speaks no SSH
    assert CAMERA_PASSWORD not in deployed.output
