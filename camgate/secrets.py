"""Secret references: the inventory names where a password lives, never the password itself.

Two kinds of reference:
- ``secret:KEY`` reads KEY from the gateway's ``secrets_file``, a git-ignored TOML file of
  ``key = "value"`` lines kept on the machine that runs pyinfra (``camgate init`` creates it, 0600);
- ``env:VAR`` reads the environment variable VAR of the pyinfra process (for CI secret stores).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

SECRET_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ENV_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
SECRET_REF_HELP = "use 'secret:KEY' (a key of the site's secrets file) or 'env:VAR' (an environment variable)"


class SecretError(ValueError):
    """A reference that cannot be resolved; the message names the reference and the fix."""


def parse_secret_ref(ref: str) -> tuple[tuple[str, str] | None, str | None]:
    """Split 'kind:name'. Returns ((kind, name), None) or (None, problem-with-fix)."""
    kind, sep, name = ref.partition(":")
    # fullmatch: '$' in the patterns also matches before a trailing newline.
    if sep and kind == "secret" and SECRET_KEY_RE.fullmatch(name):
        return (kind, name), None
    if sep and kind == "env" and ENV_VAR_RE.fullmatch(name):
        return (kind, name), None
    if kind in ("secret", "env") and sep:
        return None, f"{ref!r} names an invalid {kind} key; fix: {SECRET_REF_HELP} with letters, digits, '_', '-', '.'"
    # Never echo the value: it may be a password somebody pasted by mistake.
    return None, f"is not a secret reference; fix: {SECRET_REF_HELP}, and keep the password itself out of the inventory"


def read_secrets_file(path: str | Path) -> dict[str, str]:
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise SecretError(f"secrets file {str(path)!r} does not exist; fix: create it (camgate init does) or fix 'secrets_file'") from None
    if not stat.S_ISREG(mode):
        raise SecretError(f"secrets file {str(path)!r} is not a regular file; fix: point 'secrets_file' at the site's secrets TOML file")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(f"secrets file {str(path)!r} is readable by others; fix: chmod 600 {path}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SecretError(f"secrets file {str(path)!r} cannot be read ({exc.strerror}); fix: make it readable by this user") from None
    except UnicodeDecodeError:
        raise SecretError(f"secrets file {str(path)!r} is not UTF-8 text; fix: save it as UTF-8 with lines like key = \"value\"") from None
    except tomllib.TOMLDecodeError as exc:
        raise SecretError(f"secrets file {str(path)!r} is not valid TOML ({exc}); fix: use lines like key = \"value\"") from None
    return {str(k): v for k, v in data.items() if isinstance(v, str)}


def resolve_secret(ref: str, secrets_file: str | Path | None) -> str:
    parsed, problem = parse_secret_ref(ref)
    if parsed is None:
        raise SecretError(problem or "invalid reference")
    kind, name = parsed
    if kind == "env":
        value = os.environ.get(name)
        if value is None:
            raise SecretError(f"environment variable {name!r} is not set; fix: export {name}=... before running pyinfra")
        if not value:
            # The same rule as an empty key in the secrets file.
            raise SecretError(f"environment variable {name!r} is empty; fix: export {name}=<the password> before running pyinfra")
        return value
    if secrets_file is None:
        raise SecretError(f"{ref!r} needs the gateway's 'secrets_file'; fix: set secrets_file to the site's secrets TOML file")
    secrets = read_secrets_file(secrets_file)
    if name not in secrets:
        raise SecretError(f"key {name!r} is missing from {str(secrets_file)!r}; fix: add a line {name} = \"...\" to it")
    if not secrets[name]:
        raise SecretError(f"key {name!r} in {str(secrets_file)!r} is empty; fix: put the camera's password there")
    return secrets[name]


# crypt(3) schemes nginx's auth_basic verifies through the system's libcrypt (glibc/libxcrypt).
PASSWORD_HASH_RE = re.compile(
    r"^(\$6\$(rounds=\d+\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{86}"
    r"|\$y\$[./A-Za-z0-9]+\$[./A-Za-z0-9]+\$[./A-Za-z0-9]{43}"
    r"|\$2[aby]\$\d\d\$[./A-Za-z0-9]{53})$"
)
LINK_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{24,128}$")


def check_password_hash(value: str, ref: str) -> None:
    """An app user's secret must be a crypt hash, never a plaintext password."""
    if not PASSWORD_HASH_RE.fullmatch(value):
        raise SecretError(
            f"{ref!r} does not hold a password hash ($6$, $y$ or $2b$); fix: store the output of "
            "`camgate hash-password` there, never the password itself"
        )


def check_link_secret(value: str) -> None:
    """The URL signing secret goes into an nginx string: base64url characters only, long enough."""
    if not LINK_SECRET_RE.fullmatch(value):
        raise SecretError(
            "is not 24-128 characters of A-Z a-z 0-9 _ -; fix: generate one with "
            "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )
