"""Shared by the bad inventories of this folder (tests/unit/test_bad_inventories.py runs each of them).

Every case declares its gateway like inventory/prod.py does, wrapped in :func:`reach_listener`:

- ``reach_listener(gateway(...))`` points pyinfra's SSH connection at ``127.0.0.1:$CAMGATE_TEST_SSH_PORT``,
  a TCP listener the test opens and whose connections it counts. A bad inventory fails inside
  ``gateway()``, so this never runs and nothing connects; were validation to let the bad value
  through, pyinfra would connect to the listener and the test would see it.
- ``secrets_file(name)`` is a file in ``$CAMGATE_TEST_SECRETS_DIR``, which the test creates at run
  time (secrets files are never committed). ``EXPECT`` may say ``{secrets_dir}`` for that folder.

Module-level names a case sets: ``EXPECT`` (a substring of the one error line, naming host, camera
where a camera is involved, and field), optionally ``PROBLEMS`` (how many error lines, default 1),
``NOT_IN_OUTPUT`` (a value that must never be printed, e.g. a pasted password) and ``KNOWN_BUG``
(a strict xfail, with the reason).
"""

from __future__ import annotations

import os
from typing import Any

LISTENER_HOST = "127.0.0.1"
# Without the test (a manual `pyinfra tests/bad_inventories/x.py deploy.py`), port 1 on loopback:
# nothing listens there, so even a validation bug cannot reach a real SSH server.
DEFAULT_PORT = "1"


def reach_listener(entry: tuple[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """The (host, data) pair from gateway(), with SSH pointed at the test's listener.

    The host name stays what the error lines name; pyinfra connects to ssh_hostname when it is set.
    """
    host, data = entry
    return host, {
        **data,
        "ssh_hostname": LISTENER_HOST,
        "ssh_port": int(os.environ.get("CAMGATE_TEST_SSH_PORT", DEFAULT_PORT)),
    }


def secrets_file(name: str) -> str:
    """A secrets file the test made in its temporary folder (see test_bad_inventories.py)."""
    return os.path.join(os.environ.get("CAMGATE_TEST_SECRETS_DIR", "/nonexistent/camgate-test-secrets"), name)
