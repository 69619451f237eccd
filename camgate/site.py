"""Sites kept as data: ``inventory/<site>.toml`` holds one gateway and its cameras, the pyinfra
inventory ``inventory/<site>.py`` only loads it, and the camera passwords stay in the git-ignored
``inventory/<site>.secrets.toml`` (0600). ``camgate init`` creates the three files and
``camgate camera add|remove`` edits them; hand edits are fine too (comments are kept).

The site file::

    [gateway]
    host = "203.0.113.10"        # how pyinfra reaches the gateway over SSH
    ssh_user = "root"
    ssh_port = 22
    domain = "cams.example.com"
    tls = "letsencrypt"
    acme_email = "ops@example.com"

    [[cameras]]
    id = "front-door"
    url = "rtsp://192.168.10.21:554/stream1"
    username = "admin"
    password_ref = "secret:front-door"

``[gateway]`` takes every gateway field of docs/inventory.md plus ``host`` and the SSH settings
(``ssh_user``, ``ssh_port``, ``ssh_key``, ``ssh_known_hosts_file``); ``[[cameras]]`` and
``[[app_users]]`` take the camera and app user fields. Relative paths (``ssh_key``,
``ssh_known_hosts_file``, ``acme_ca_bundle``, ``secrets_file``) are relative to the site file.
:func:`site_gateways` hands everything to :func:`camgate.inventory.gateway`, so a site validates
exactly like a Python inventory.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit

from camgate.inventory import gateway
from camgate.model import HOSTNAME_RE, InventoryError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

SITE_SUFFIX = ".toml"
SECRETS_SUFFIX = ".secrets.toml"
# Top-level keys of a site file; cameras and app users may also sit inside [gateway].
TOP_LEVEL_KEYS = ("gateway", "cameras", "app_users")
SSH_FIELDS = ("ssh_user", "ssh_port", "ssh_key", "ssh_known_hosts_file")
# Local paths (on the machine running pyinfra) read relative to the site file.
LOCAL_PATH_FIELDS = ("ssh_key", "ssh_known_hosts_file", "acme_ca_bundle", "secrets_file")
SSH_USER_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$")
CONNECTOR_RE = re.compile(r"@[a-z]+(?:/[A-Za-z0-9_.@:-]+)?")


def site_gateways(py_file: str | Path) -> list[tuple[str, dict[str, Any]]]:
    """The pyinfra hosts of the site whose inventory file is ``py_file``: reads ``<stem>.toml``
    beside it and returns ``[gateway(host, **fields)]`` (validated; InventoryError otherwise)."""
    site = Site.of(py_file)
    return [site.gateway_entry(site.read_data())]


@dataclass(frozen=True)
class Site:
    """The three files of one site, named after the inventory file's stem."""

    py_path: Path

    @classmethod
    def of(cls, py_file: str | Path) -> Site:
        return cls(Path(py_file).expanduser().resolve())

    @property
    def name(self) -> str:
        return self.py_path.stem

    @property
    def toml_path(self) -> Path:
        return self.py_path.with_name(self.name + SITE_SUFFIX)

    @property
    def default_secrets_path(self) -> Path:
        return self.py_path.with_name(self.name + SECRETS_SUFFIX)

    def read_text(self) -> str:
        try:
            return self.toml_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InventoryError(
                [(f"site {self.name!r}: {str(self.toml_path)!r} does not exist; fix: create the site with "
                  f"`camgate init {self.name}`, or keep the gateway in {self.py_path.name} itself")]
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InventoryError([f"site {self.name!r}: cannot read {str(self.toml_path)!r} ({exc}); fix: make it a readable UTF-8 file"]) from None

    def parse(self, text: str) -> dict[str, Any]:
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InventoryError(
                [(f"site {self.name!r}: {str(self.toml_path)!r} is not valid TOML ({exc}); fix: correct that line "
                  "(strings in double quotes, one key = value per line)")]
            ) from None

    def read_data(self) -> dict[str, Any]:
        return self.parse(self.read_text())

    def _local_path(self, value: Any) -> Any:
        if isinstance(value, str) and value and not value.startswith("~") and not os.path.isabs(value):
            return str(self.toml_path.parent / value)
        return value

    def secrets_path(self, data: dict[str, Any]) -> Path:
        """The secrets file `secret:` references of this site read (default: <stem>.secrets.toml)."""
        table = data.get("gateway")
        value = table.get("secrets_file") if isinstance(table, dict) else None
        if isinstance(value, str) and value:
            return Path(self._local_path(value)).expanduser().resolve()
        return self.default_secrets_path

    def gateway_fields(self, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """(host, keyword arguments of camgate.inventory.gateway) from a parsed site file."""
        where = f"site {self.name!r} ({self.toml_path.name})"
        problems = []
        for key in data:
            if key not in TOP_LEVEL_KEYS:
                problems.append(
                    f"{where}: {key!r} is not a site section; fix: put gateway fields under [gateway] and use "
                    "[[cameras]] / [[app_users]] tables (docs/inventory.md)"
                )
        table = data.get("gateway")
        if not isinstance(table, dict):
            problems.append(f"{where}: has no [gateway] table; fix: add [gateway] with host = \"ADDRESS\" and the gateway fields")
            raise InventoryError(problems)
        fields = dict(table)
        host = fields.pop("host", None)
        if not isinstance(host, str) or not host.strip():
            problems.append(
                f"{where}: [gateway] field 'host': is required; fix: set host = \"gw.example.com\" "
                "(the name or address pyinfra connects to over SSH)"
            )
            raise InventoryError(problems)
        for key in ("cameras", "app_users"):
            if key in data:
                if key in fields:
                    problems.append(f"{where}: {key!r} is declared twice ([[{key}]] and inside [gateway]); fix: keep one")
                fields[key] = data[key]
        problems += _ssh_problems(host, fields)
        if problems:
            raise InventoryError(problems)
        for key in LOCAL_PATH_FIELDS:
            if key in fields:
                fields[key] = self._local_path(fields[key])
        fields["secrets_file"] = str(self.secrets_path(data))
        return host, fields

    def gateway_entry(self, data: dict[str, Any], secrets_file: Path | None = None) -> tuple[str, dict[str, Any]]:
        """Validate a parsed site file the way pyinfra will (fields, secret references) and return
        the ``(host, data)`` pair. `secrets_file` replaces the site's (a candidate being checked)."""
        host, fields = self.gateway_fields(data)
        if secrets_file is not None:
            fields["secrets_file"] = str(secrets_file)
        return gateway(host, **fields)


def check_host(value: str) -> str | None:
    """The name or address pyinfra connects to (IPv6 allowed here, unlike `domain`), or a pyinfra
    connector name such as @local or @vagrant/NAME."""
    if CONNECTOR_RE.fullmatch(value):
        return None
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    if HOSTNAME_RE.fullmatch(value) and not value.rsplit(".", 1)[-1].isdigit():
        return None
    return f"{value!r} is not a host name or IP address; fix: use the gateway's address, e.g. 203.0.113.10 or gw1.example.com"


def _ssh_problems(host: str, fields: dict[str, Any]) -> list[str]:
    """gateway() passes the host and SSH settings to pyinfra untouched: check them here."""
    where = f"host {host!r}"
    problems = []
    host_problem = check_host(host)
    if host_problem:
        problems.append(f"{where}: [gateway] field 'host': {host_problem}")
    port = fields.get("ssh_port")
    if "ssh_port" in fields and (isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535):
        problems.append(f"{where}: field 'ssh_port': {port!r} is not a port; fix: write a number from 1 to 65535 without quotes, e.g. ssh_port = 22")
    user = fields.get("ssh_user")
    if "ssh_user" in fields and not (isinstance(user, str) and SSH_USER_RE.fullmatch(user)):
        problems.append(f"{where}: field 'ssh_user': {user!r} is not a user name; fix: use the login name, e.g. ssh_user = \"root\"")
    for key in ("ssh_key", "ssh_known_hosts_file", "secrets_file"):
        if key in fields and not (isinstance(fields[key], str) and fields[key].strip()):
            problems.append(f"{where}: field {key!r}: expected a file path, got {fields[key]!r}; fix: write it as a quoted path")
    return problems


def check_ssh_user(value: str) -> str | None:
    if not SSH_USER_RE.fullmatch(value):
        return f"{value!r} is not a user name; fix: use the login name on the gateway, e.g. root"
    return None


def stage(path: Path, text: str, mode: int) -> Path:
    """Write `text` to a new temporary file beside `path` (created with `mode`, flushed to disk) and
    return its path; :func:`os.replace` puts it in place in one step."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def write_atomically(path: Path, text: str, mode: int) -> None:
    """Replace `path` with `text` in one step: a crash leaves the old file or the new one, never half."""
    tmp = stage(path, text, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# --- Editing site files -------------------------------------------------------------------------
# Edits are made on the text, so every comment and blank line outside the camera being added or
# removed stays where it is, and then checked: the edited text must parse to exactly the data
# intended, else tomlkit's document model makes the edit (it keeps comments, though it may leave a
# comment that introduced a removed camera behind).

TABLE_HEADER_RE = re.compile(r"^[ \t]*\[\[?[ \t]*[A-Za-z0-9_.\"' -]+?[ \t]*\]\]?[ \t]*(?:#.*)?$")
CAMERA_HEADER_RE = re.compile(r"^[ \t]*\[\[[ \t]*cameras[ \t]*\]\][ \t]*(?:#.*)?$")
COMMENT_RE = re.compile(r"^[ \t]*#")


class SiteEditError(RuntimeError):
    """An edit could not be made so that the file says exactly what was intended."""


def _blank(line: str) -> bool:
    return not line.strip()


def camera_table(camera: dict[str, Any]) -> str:
    """One ``[[cameras]]`` table, keys in the order given, rendered by tomlkit."""
    table = tomlkit.table()
    for key, value in camera.items():
        table.add(key, value)
    doc = tomlkit.document()
    doc.append("cameras", tomlkit.aot())
    doc["cameras"].append(table)
    return tomlkit.dumps(doc)


def _cameras_of(data: dict[str, Any]) -> list[Any]:
    cameras = data.get("cameras")
    return list(cameras) if isinstance(cameras, list) else []


def _checked(new_text: str, expected: dict[str, Any]) -> bool:
    try:
        return tomllib.loads(new_text) == expected
    except tomllib.TOMLDecodeError:
        return False


def append_camera(text: str, camera: dict[str, Any]) -> str:
    """`text` with one more ``[[cameras]]`` table at the end (after a blank line)."""
    data = tomllib.loads(text)
    expected = {**data, "cameras": [*_cameras_of(data), camera]}
    head = text if not text or text.endswith("\n") else text + "\n"
    if head and not head.endswith("\n\n"):
        head += "\n"
    new_text = head + camera_table(camera)
    if _checked(new_text, expected):
        return new_text
    doc = tomlkit.parse(text)
    table = tomlkit.table()
    for key, value in camera.items():
        table.add(key, value)
    if "cameras" in doc:
        doc["cameras"].append(table)
    else:
        doc.append("cameras", tomlkit.aot())
        doc["cameras"].append(table)
    new_text = tomlkit.dumps(doc)
    if not _checked(new_text, expected):
        raise SiteEditError("cannot append a [[cameras]] table to this file; fix: keep cameras as [[cameras]] tables at the top level")
    return new_text


def remove_camera(text: str, index: int) -> str:
    """`text` without the index-th ``[[cameras]]`` table. A table is its header, the comment lines
    directly above it and everything up to its last value; comments after its last value belong
    to what follows and stay."""
    data = tomllib.loads(text)
    cameras = _cameras_of(data)
    expected = dict(data)
    if len(cameras) > 1:
        expected["cameras"] = cameras[:index] + cameras[index + 1:]
    else:
        expected.pop("cameras", None)
    lines = text.splitlines(keepends=True)
    headers = [i for i, line in enumerate(lines) if TABLE_HEADER_RE.match(line)]
    camera_headers = [i for i in headers if CAMERA_HEADER_RE.match(lines[i])]
    if index < len(camera_headers):
        header = camera_headers[index]
        start = header
        while start > 0 and COMMENT_RE.match(lines[start - 1]):
            start -= 1
        following = next((i for i in headers if i > header), len(lines))
        last = max(i for i in range(header, following) if not _blank(lines[i]) and not COMMENT_RE.match(lines[i]))
        kept = lines[:start] + lines[last + 1:]
        # One blank line where the table was, none doubled, none at the end of the file.
        while start < len(kept) and _blank(kept[start]) and (start == 0 or _blank(kept[start - 1])):
            del kept[start]
        while kept and _blank(kept[-1]):
            kept.pop()
        new_text = "".join(kept)
        if new_text and not new_text.endswith("\n"):
            new_text += "\n"
        if _checked(new_text, expected):
            return new_text
    doc = tomlkit.parse(text)
    container = doc if "cameras" in doc else doc.get("gateway", {})
    del container["cameras"][index]
    if not container["cameras"]:
        del container["cameras"]
    new_text = tomlkit.dumps(doc)
    if not _checked(new_text, expected):
        raise SiteEditError("cannot remove that camera from this file; fix: edit the file by hand")
    return new_text


def set_secret(text: str, key: str, value: str) -> str:
    """The secrets file `text` with ``key = "value"`` set (added at the end, or replaced in place)."""
    doc = tomlkit.parse(text)
    doc[key] = value
    new_text = tomlkit.dumps(doc)
    if tomllib.loads(new_text).get(key) != value:
        raise SiteEditError(f"cannot set key {key!r} in the secrets file; fix: keep it as top-level key = \"value\" lines")
    return new_text


def remove_secret(text: str, key: str) -> str:
    doc = tomlkit.parse(text)
    if key in doc:
        del doc[key]
    return tomlkit.dumps(doc)


# --- New site files (camgate init) --------------------------------------------------------------


def _value(value: Any) -> str:
    return tomlkit.item(value).as_string()


def site_file_text(site: str, py_file: str, gateway_fields: dict[str, Any]) -> str:
    """The site file `camgate init` writes: the values given, every other setting as a comment."""
    g = gateway_fields
    email = (
        f"acme_email = {_value(g['acme_email'])}  # Let's Encrypt writes here before the certificate expires"
        if g.get("acme_email")
        else '# acme_email = "ops@example.com"  # required with tls = "letsencrypt"'
    )
    provided = "".join(
        f"{key} = {_value(g[key])}\n" for key in ("tls_certificate", "tls_key") if g.get(key) is not None
    )
    return f"""\
# camgate site "{site}": one gateway and its cameras. Every field: docs/inventory.md.
# Add cameras with `camgate camera add {site} ID --url rtsp://...` or edit this file by hand;
# `camgate validate {py_file}` checks it without touching the gateway.
# Passwords never go here: they live in {site}{SECRETS_SUFFIX} (password_ref = "secret:KEY").

[gateway]
# How pyinfra reaches the gateway over SSH (name or address), and as whom.
host = {_value(g['host'])}
ssh_user = {_value(g['ssh_user'])}
ssh_port = {_value(g['ssh_port'])}
# ssh_key = "~/.ssh/id_ed25519"
# ssh_known_hosts_file = "~/.ssh/known_hosts"  # pins the host key (strict checking)

# The name the app uses to reach the gateway (for Let's Encrypt, its DNS record points here).
domain = {_value(g['domain'])}
# HTTPS: "letsencrypt" (certbot through port 80), "selfsigned" (a LAN-only site; `camgate tls-ca`
# prints the CA to install on the phones), "provided" (tls_certificate and tls_key on the gateway)
# or "off" (plain HTTP, local development only).
tls = {_value(g['tls'])}
{email}
{provided}
# More settings, with their defaults in docs/inventory.md:
# alt_domains = ["cams2.example.com"]
# ssh_allow_from = ["203.0.113.0/24"]  # SSH only from these networks (the deploying machine always)
# recordings_max_size = "400G"  # disk budget for recordings; the oldest go first
# url_ttl = 3600  # seconds a signed stream URL stays valid

# Cameras: one [[cameras]] table each; `camgate camera add` appends them below.
"""


def inventory_file_text(site: str, py_file: str) -> str:
    """The pyinfra inventory of a site: it only loads the site file."""
    return f'''\
"""camgate site {site}: the gateway and its cameras are in {site}{SITE_SUFFIX}, passwords in {site}{SECRETS_SUFFIX}.

Check:   camgate validate {py_file}
Deploy:  pyinfra {py_file} deploy.py
Cameras: camgate camera add {site} ID --url rtsp://... (see docs/onboarding.md)
"""

from camgate.site import site_gateways

gateways = site_gateways(__file__)
'''


def secrets_file_text(site: str) -> str:
    return f"""\
# Secrets of camgate site "{site}": mode 0600 and git-ignored (*{SECRETS_SUFFIX}); never commit it.
# One line per secret, KEY = "value"; the site file refers to them as password_ref = "secret:KEY".
# `camgate camera add {site} ID ... --password-prompt` stores camera passwords here itself.
# App users: the output of `camgate hash-password` (a hash, never the password).
# front-door = "the camera's password"
# app-alice = "$6$..."
"""
