"""Password hashes for app users: crypt(3) SHA-512 ($6$), which nginx's auth_basic checks through the
system's libcrypt on every supported distribution. Only the hash ever leaves the admin's machine."""

from __future__ import annotations

import subprocess
import warnings

MIN_LENGTH = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise ValueError(f"password is shorter than {MIN_LENGTH} characters; fix: use a longer one")
    if any(ch in password for ch in "\r\n"):
        raise ValueError("password contains a line break; fix: use a single line")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # Python <= 3.12; on 3.13+ openssl below does the same
        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512))
    except ImportError:
        result = subprocess.run(
            ["openssl", "passwd", "-6", "-stdin"], input=password + "\n", capture_output=True, text=True, check=True
        )
        return result.stdout.strip()
