"""Run camgate's pyinfra roles against a simulated host: facts in, operations and commands out.

What the harness guarantees:

- The deploy runs on pyinfra's real engine. A real ``State`` and ``Inventory`` hold ONE host whose
  data is what ``camgate.inventory.gateway(...)`` returned; the roles are prepared (called under
  pyinfra's host/state/config context, as ``pyinfra`` does for a deploy file) and then executed with
  ``pyinfra.api.operations.run_ops``, so ``_if=``, ``any_changed`` and ``did_change`` behave as they
  do on a real host.
- Every fact comes from a :class:`SimHost`, the test's description of the host before the deploy.
  The only patch is ``pyinfra.api.host.get_fact``, the function ``Host.get_fact`` delegates to: every
  ``host.get_fact(...)``, by a role or inside a pyinfra operation, is answered there. Where a fact
  has a simple output format the simulated host prints what the fact's command would print and the
  fact's own ``process()`` parses it (camgate's PathStates, Certificate, NftTableLoaded and
  SshConnection included), so a fact parser that misreads its output fails here too.
- A fact the simulated host cannot answer fails the deploy with :class:`UnansweredFact`, naming the
  fact class and its arguments; it never comes back as None.
- Nothing runs anywhere. A recording connector takes every shell command and every upload (remote
  path and content), files them under the operation that ran them, and reports success, unless a
  modelled program fails where the real one would (camgate-tls-use without certificate files,
  camgate-nginx-apply when nginx -t would not find a certificate): then pyinfra stops the deploy
  and the run raises :class:`DeployFailed` naming the operation, the command and the error. A
  command reaching the connector outside an operation (a fact that slipped past the table) fails
  the run.
- Facts asked while the roles are prepared describe the host before the deploy (the test's
  SimHost). While the operations execute, pyinfra evaluates each one again and asks its facts again;
  those describe the *live* host, as on a real one: the SimHost plus the modelled effect of every
  upload and command so far (see PROGRAMS: chmod/chown, mkdir, rm, ln, touch, systemctl with the
  units' ExecStart/ExecStop, apt-get update/install, useradd/usermod/groupadd, certbot certonly/delete,
  nft, and camgate's own scripts as their headers describe them). A command it does not model
  changes nothing and is listed in ``Result.unmodelled``; ``Result.host_after()`` refuses to hand
  such a host to a re-deploy unless told to ignore it. :func:`converge` deploys twice: the second
  run on the host the first one left.
- pyinfra's global context (state, inventory, host, config) is restored after every run, also
  after a failed one; nothing leaks from one run into the next.

Usage::

    first = deploy(cameras, gateway("gw.example.com", ...), SimHost())
    assert "Run camgate-camera-front.service" in first.changes()
    _, again = converge(cameras, gateway("gw.example.com", ...))
    assert not again.changed
"""

from __future__ import annotations

import fnmatch
import hashlib
import posixpath
import re
import runpy
import shlex
import stat
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from inspect import getcallargs
from io import IOBase
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator
from unittest import mock

import pyinfra
import pyinfra.api.host
from pyinfra.api import Config, Inventory, State
from pyinfra.api.connect import connect_all
from pyinfra.api.facts import FactBase, ShortFactBase
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.host import Host as PyinfraHost
from pyinfra.api.operations import run_ops
from pyinfra.api.state import StateStage
from pyinfra.connectors.base import BaseConnector
from pyinfra.connectors.util import CommandOutput, OutputLine
from pyinfra.context import ctx_config, ctx_host, ctx_inventory, ctx_state
from pyinfra.facts import deb, files, server, systemd

from roles.facts import Accounts, Certificate, EnabledUnits, LoadedUnits, ManagedFiles, PathStates, Together
from roles.firewall import NftTableLoaded, SshConnection

# ---------------------------------------------------------------------------------------------
# The simulated host
# ---------------------------------------------------------------------------------------------

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=timezone.utc)  # the host's clock
UNIT_DIRS = ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")
UNIT_SUFFIXES = (".service", ".timer", ".socket", ".target", ".path", ".mount")
# Directories of a freshly installed Debian/Ubuntu server.
BASE_DIRS = (
    "/", "/etc", "/etc/systemd", "/etc/systemd/system", "/lib", "/lib/systemd", "/lib/systemd/system",
    "/usr", "/usr/lib", "/usr/local", "/usr/local/lib", "/usr/sbin", "/var", "/var/lib",
    "/var/lib/apt", "/var/lib/apt/periodic", "/run", "/tmp", "/root", "/proc",
)  # fmt: skip
BASE_COMMANDS = frozenset({
    "sh", "systemctl", "apt", "apt-get", "dpkg", "useradd", "usermod", "userdel", "groupadd",
    "groupdel", "sha1sum", "sha256sum", "md5sum", "find", "grep", "stat", "sudo",
})  # fmt: skip
# (name, home, shell, primary group, secondary groups) of a bare server.
BASE_USERS = (
    ("root", "/root", "/bin/bash", "root", ()),
    ("daemon", "/usr/sbin", "/usr/sbin/nologin", "daemon", ()),
    ("www-data", "/var/www", "/usr/sbin/nologin", "www-data", ()),
    ("nobody", "/nonexistent", "/usr/sbin/nologin", "nogroup", ()),
)
BASE_GROUPS = ("root", "daemon", "adm", "sudo", "www-data", "nogroup", "systemd-journal")
# What installing a package brings on Debian/Ubuntu: directories, files, symlinks, and units that
# the package's postinst enables and starts.
PACKAGE_PATHS = {
    "nginx": (
        "/etc/nginx", "/etc/nginx/conf.d", "/etc/nginx/sites-available", "/etc/nginx/sites-enabled",
        "/var/www", "/var/www/html",
    ),  # fmt: skip
    "certbot": ("/etc/letsencrypt", "/etc/letsencrypt/renewal-hooks/deploy"),
}
PACKAGE_FILES = {"nginx": {"/etc/nginx/sites-available/default": "server { listen 80 default_server; }\n"}}
PACKAGE_LINKS = {"nginx": {"/etc/nginx/sites-enabled/default": "/etc/nginx/sites-available/default"}}
PACKAGE_UNITS = {
    "nginx": ("nginx.service",), "certbot": ("certbot.timer",), "nftables": (), "janus": ("janus.service",),
    "coturn": ("coturn.service",),
}  # fmt: skip
# System groups a package's postinst adds (coturn runs as turnserver).
PACKAGE_GROUPS = {"coturn": ("turnserver",)}
PACKAGE_COMMANDS = {"nftables": ("nft",), "openssl": ("openssl",), "certbot": ("certbot",), "nginx": ("nginx",)}


class CommandFailed(Exception):
    """Raised by a modelled program when the real one would exit non-zero (message: its stderr)."""


class DeployFailed(AssertionError):
    """A command failed on the simulated host, so pyinfra stopped the deploy (as it would on a real one)."""


class UnansweredFact(AssertionError):
    """The deploy asked for a fact the simulated host has no answer for (extend SimHost or pass
    ``extra_facts={FactClass: value}``)."""


@dataclass(frozen=True)
class Cert:
    """A PEM certificate on the simulated host, as the Certificate fact (openssl) reads it."""

    names: tuple[str, ...]
    not_after: str = "Jan  1 00:00:00 2100 GMT"
    serial: str = "0A"

    def openssl_lines(self) -> list[str]:
        """What `openssl x509 -noout -serial -enddate -ext subjectAltName` prints for it."""
        sans = ", ".join(f"IP Address:{n}" if re.fullmatch(r"[0-9.:]+", n) else f"DNS:{n}" for n in self.names)
        return [f"serial={self.serial}", f"notAfter={self.not_after}", "X509v3 Subject Alternative Name: ", f"    {sans}"]

    def pem(self) -> str:
        body = "|".join((*self.names, self.not_after, self.serial)).encode().hex()
        return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"


@dataclass(frozen=True)
class Entry:
    """One path on the simulated host: a file (content), a directory or a symlink (target)."""

    kind: str  # "file" | "directory" | "link"
    mode: int = 0o644  # permission bits
    user: str = "root"
    group: str = "root"
    content: str | bytes | Cert = ""
    target: str = ""
    mtime: int = 0  # seconds since the epoch

    def data(self) -> bytes:
        if isinstance(self.content, Cert):
            return self.content.pem().encode()
        return self.content if isinstance(self.content, bytes) else self.content.encode()


def _mode(value: str | int) -> int:
    """'0644', '644' or 0o644 -> 0o644."""
    return int(value, 8) if isinstance(value, str) else value


def _file_entry(spec: Any) -> Entry:
    """A test's file spec: content, (content, mode) or (content, mode, user, group)."""
    spec = spec if isinstance(spec, tuple) else (spec,)
    content, mode, user, group = spec + ("0644", "root", "root")[len(spec) - 1 :]
    return Entry("file", _mode(mode), user, group, content=content)


class SimHost:
    """The state of one host before a deploy; answers every fact the roles and pyinfra ask.

    Defaults describe a bare Debian 12 server: no camgate files, no units running, nginx, ffmpeg,
    certbot and nftables not installed, the base users and groups, the deploy's SSH session coming
    from 198.51.100.7 to port 22. Arguments (all optional):

    - files: {path: content | (content, mode) | (content, mode, user, group)}; content is text,
      bytes or a :class:`Cert`. Parent directories exist (0755 root:root).
    - dirs: {path: (mode, user, group)} or an iterable of paths (0755 root:root).
    - links: {path: target}.
    - running, enabled: unit names that are active / enabled.
    - packages: {deb package: version} installed, with what installing them brings
      (PACKAGE_PATHS/_FILES/_LINKS; PACKAGE_UNITS running and enabled).
    - distro: (ID, VERSION_ID) of /etc/os-release, e.g. ("ubuntu", "22.04"); its archive's
      packages and versions are ARCHIVE_VERSIONS and ARCHIVE_MISSING.
    - apt_lists: False for a bare image that has no apt lists yet (until `apt-get update` runs).
    - users: {name: (home, shell, group, [groups])} added to the base users; groups: extra groups.
    - nft_tables: names of `table inet <name>` loaded in the kernel.
    - ssh_connection: $SSH_CONNECTION of the deploy's session (None: not over SSH).
    - extra_facts: {FactClass: value or callable(**fact_kwargs)}, consulted before anything else.

    Tests may change a host before deploying to it: put(), link(), remove(), install(), and the
    running / enabled / nft_tables sets.
    """

    def __init__(
        self,
        files: dict[str, Any] | None = None,
        dirs: dict[str, tuple] | Iterable[str] | None = None,
        links: dict[str, str] | None = None,
        running: Iterable[str] = (),
        enabled: Iterable[str] = (),
        packages: dict[str, str] | None = None,
        distro: tuple[str, str] = ("debian", "12"),
        users: dict[str, tuple] | None = None,
        groups: Iterable[str] = (),
        nft_tables: Iterable[str] = (),
        ssh_connection: str | None = "198.51.100.7 51234 192.0.2.10 22",
        extra_facts: dict[type, Any] | None = None,
        apt_lists: bool = True,
    ):
        self.packages = dict(packages or {})
        self.distro = distro
        self.apt_lists = apt_lists
        self.running = set(running)
        self.enabled = set(enabled)
        self.nft_tables = set(nft_tables)
        self.ssh_connection = ssh_connection
        self.extra_facts = dict(extra_facts or {})
        self.users = {name: (home, shell, group, list(more)) for name, home, shell, group, more in BASE_USERS}
        for name, spec in (users or {}).items():
            self.users[name] = (*spec[:3], list(spec[3]) if len(spec) > 3 else [])
        self.groups = set(BASE_GROUPS) | set(groups) | {spec[2] for spec in self.users.values()}
        self.paths: dict[str, Entry] = {}
        for path in BASE_DIRS:
            self.paths[path] = Entry("directory", 0o755)
        for package, version in self.packages.items():
            self.install(package, version)
        dirs = dirs or {}
        for path in dirs:
            mode, user, group = dirs[path] if isinstance(dirs, dict) else ("0755", "root", "root")
            self._add(path, Entry("directory", _mode(mode), user, group))
        for path, spec in (files or {}).items():
            self._add(path, _file_entry(spec))
        for path, target in (links or {}).items():
            self._add(path, Entry("link", 0o777, target=target))

    # -- the filesystem -------------------------------------------------------------------------

    def _add(self, path: str, entry: Entry) -> None:
        path = posixpath.normpath(path)
        parent = posixpath.dirname(path)
        if parent != path and parent not in self.paths:
            self._add(parent, Entry("directory", 0o755))
        self.paths[path] = entry

    def copy(self) -> "SimHost":
        other = SimHost.__new__(SimHost)
        for key, value in self.__dict__.items():
            other.__dict__[key] = value.copy() if isinstance(value, (dict, set)) else value
        other.users = {name: (*spec[:3], list(spec[3])) for name, spec in self.users.items()}
        return other

    def put(
        self, path: str, content: str | bytes | Cert, mode: str | int = "0644", user: str = "root", group: str = "root"
    ) -> "SimHost":
        """A file at path (replacing whatever was there); parent directories appear as needed."""
        self._add(path, Entry("file", _mode(mode), user, group, content=content))
        return self

    def link(self, path: str, target: str) -> "SimHost":
        self._add(path, Entry("link", 0o777, target=target))
        return self

    def remove(self, path: str) -> "SimHost":
        """Delete path and, for a directory, everything below it (like rm -rf)."""
        path = posixpath.normpath(path)
        for candidate in [p for p in self.paths if p == path or p.startswith(path.rstrip("/") + "/")]:
            del self.paths[candidate]
        return self

    def install(self, package: str, version: str) -> "SimHost":
        """A deb package installed, with what it brings (PACKAGE_PATHS, _FILES, _LINKS, _UNITS)."""
        self.packages[package] = version
        for path in PACKAGE_PATHS.get(package, ()):
            if self.lookup(path, follow=False) is None:
                self._add(path, Entry("directory", 0o755))
        for path, content in PACKAGE_FILES.get(package, {}).items():
            if self.lookup(path, follow=False) is None:
                self.put(path, content)
        for path, target in PACKAGE_LINKS.get(package, {}).items():
            if self.lookup(path, follow=False) is None:
                self.link(path, target)
        self.running.update(PACKAGE_UNITS.get(package, ()))
        self.enabled.update(PACKAGE_UNITS.get(package, ()))
        self.groups.update(PACKAGE_GROUPS.get(package, ()))
        return self

    def resolve(self, path: str, follow_last: bool = True) -> str | None:
        """The path with symlinks resolved (like the kernel does), or None for a dangling one."""
        parts = [p for p in posixpath.normpath(path).split("/") if p]
        current = "/"
        hops = 0
        while parts:
            current = posixpath.join(current, parts.pop(0))
            entry = self.paths.get(current)
            if entry and entry.kind == "link" and (parts or follow_last):
                hops += 1
                if hops > 40:
                    return None
                target = posixpath.join(posixpath.dirname(current), entry.target)  # absolute targets win
                parts = [p for p in posixpath.normpath(target).split("/") if p] + parts
                current = "/"
        return current if current in self.paths else None

    def lookup(self, path: str, follow: bool = True) -> Entry | None:
        resolved = self.resolve(path, follow_last=follow)
        return self.paths.get(resolved) if resolved else None

    def file(self, path: str) -> Entry | None:
        """The regular file at path (through symlinks), or None."""
        entry = self.lookup(path)
        return entry if entry and entry.kind == "file" else None

    def content(self, path: str) -> str | None:
        entry = self.file(path)
        return None if entry is None else entry.data().decode()

    def units(self) -> set[str]:
        """Every unit systemd knows: unit files in the unit directories, and anything running/enabled."""
        found = {
            path.rsplit("/", 1)[-1]
            for path, entry in self.paths.items()
            if posixpath.dirname(path) in UNIT_DIRS and entry.kind != "directory"
        }
        return {u for u in found if u.endswith(UNIT_SUFFIXES)} | self.running | self.enabled

    # -- facts ----------------------------------------------------------------------------------

    def answer(self, fact: FactBase, kwargs: dict[str, Any]) -> Any:
        """The fact's value on this host, as pyinfra would compute it; UnansweredFact otherwise."""
        cls = type(fact)
        if cls in self.extra_facts:
            value = self.extra_facts[cls]
            return value(**kwargs) if callable(value) else value
        for fact_cls in cls.__mro__:
            handler = FACT_OUTPUT.get(fact_cls)
            if handler is not None:
                lines = handler(self, **kwargs)
                _make_command(fact, kwargs)  # some facts keep state from command() for process()
                return fact.process(lines) if lines else fact.default()
            handler = FACT_VALUE.get(fact_cls)
            if handler is not None:
                return handler(self, **kwargs)
        raise UnansweredFact(f"the simulated host cannot answer fact {cls.name}({_format_kwargs(kwargs)})")

    def stat_line(self, path: str) -> list[str]:
        """`stat -c 'user=%U group=%G mode=%A atime=%X mtime=%Y ctime=%Z size=%s %N' path` (no -L)."""
        entry = self.lookup(path, follow=False)
        if entry is None:
            return []
        kind = {"file": stat.S_IFREG, "directory": stat.S_IFDIR, "link": stat.S_IFLNK}[entry.kind]
        name = f"'{path}' -> '{entry.target}'" if entry.kind == "link" else f"'{path}'"
        size = len(entry.data()) if entry.kind == "file" else 4096
        return [
            f"user={entry.user} group={entry.group} mode={stat.filemode(kind | entry.mode)} "
            f"atime={entry.mtime} mtime={entry.mtime} ctime={entry.mtime} size={size} {name}"
        ]


def _make_command(fact: FactBase, kwargs: dict[str, Any]) -> None:
    if callable(getattr(fact, "command", None)):
        fact.command(**kwargs)


def _format_kwargs(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def _hash_lines(algorithm: str) -> Callable[..., list[str]]:
    def output(sim: SimHost, path: str) -> list[str]:
        entry = sim.file(path)
        return [f"{hashlib.new(algorithm, entry.data()).hexdigest()}  {path}"] if entry else []

    return output


def _find(kind: str) -> Callable[..., list[str]]:
    def output(sim: SimHost, path: str, maxdepth=None, fname=None, quote_path=True, **unsupported) -> list[str]:
        used = {k: v for k, v in unsupported.items() if v not in (None, [], ())}
        if used:
            raise UnansweredFact(f"the simulated `find` does not model {_format_kwargs(used)}")
        root = posixpath.normpath(path)
        if sim.lookup(root) is None:
            return []
        found = []
        for candidate, entry in sim.paths.items():
            if entry.kind != kind or not candidate.startswith(root.rstrip("/") + "/"):
                continue
            depth = candidate[len(root.rstrip("/")) :].count("/")
            if maxdepth is not None and depth > int(maxdepth):
                continue
            if fname is not None and not fnmatch.fnmatchcase(candidate.rsplit("/", 1)[-1], fname):
                continue
            found.append(candidate)
        return sorted(found)

    return output


def _find_in_file(sim: SimHost, path: str, pattern: str, interpolate_variables=False, extended_regex=False) -> list[str]:
    entry = sim.file(path)
    if entry is None:
        return []
    matching = [line for line in entry.data().decode().splitlines() if re.search(pattern, line)]
    return matching or [f"__pyinfra_exists_{path}"]


def _systemd(active: Callable[[SimHost, str], bool], key: str, on: str, off: str) -> Callable[..., list[str]]:
    def output(sim: SimHost, user_mode=False, machine=None, user_name=None, services=None) -> list[str]:
        if user_mode or machine or user_name:
            raise UnansweredFact("the simulated host models the system manager only (no --user/--machine)")
        names = sim.units() if services is None else [services] if isinstance(services, str) else list(services)
        lines = []
        for unit in sorted(names):
            lines += [f"Id={unit}", f"{key}={on if active(sim, unit) else off}", ""]
        return lines

    return output


def _deb_packages(sim: SimHost) -> list[str]:
    return [f"ii  {name}  {version}  amd64  simulated" for name, version in sorted(sim.packages.items())]


def _os_release(sim: SimHost) -> list[str]:
    distro_id, version = sim.distro
    pretty = {"debian": "Debian GNU/Linux", "ubuntu": "Ubuntu"}.get(distro_id, distro_id)
    return [
        "/etc/os-release", f'PRETTY_NAME="{pretty} {version}"', f'NAME="{pretty}"', f'VERSION_ID="{version}"',
        f"ID={distro_id}", "---",
    ]  # fmt: skip


def _users(sim: SimHost) -> list[str]:
    lines = []
    for uid, (name, (home, shell, group, more)) in enumerate(sorted(sim.users.items())):
        lines.append(f"{name}:x:{uid}:{uid}::{home}:{shell}|{group}|{' '.join([group, *more])}||*")
    return lines


def _accounts(sim: SimHost) -> list[str]:
    """What roles.facts.Accounts' command prints: /etc/passwd, a `--` marker, /etc/group with members."""
    gids = {group: gid for gid, group in enumerate(sorted(sim.groups), start=100)}
    passwd = [f"{name}:x:{uid}:{gids[group]}::{home}:{shell}" for uid, (name, (home, shell, group, _more)) in enumerate(sorted(sim.users.items()))]
    members = {group: sorted(name for name, spec in sim.users.items() if group in spec[3]) for group in gids}
    return [*passwd, "--", *(f"{group}:x:{gid}:{','.join(members[group])}" for group, gid in gids.items())]


def _path_states(sim: SimHost, paths) -> list[str]:
    """What PathStates' command prints: find's type/mode/owner lines, a `--` marker, then sha1sum lines."""
    stats, hashes = [], []
    for path in paths:
        entry = sim.lookup(path)
        if entry is None or entry.kind not in ("file", "directory"):
            continue
        stats.append(f"{path}\t{entry.kind[0]} {entry.mode:o} {entry.user} {entry.group}")
        if entry.kind == "file":
            hashes.append(f"{hashlib.sha1(entry.data()).hexdigest()}  {path}")
    return [*stats, "--", *hashes]


def _managed_files(sim: SimHost, folders, files) -> list[str]:
    """What ManagedFiles' command prints: stat lines, a `--` marker, then sha1sum lines."""
    found = [p for p in files if (sim.lookup(p) or Entry("none")).kind == "file"]
    for folder in folders:
        found += [p for p, e in sim.paths.items() if posixpath.dirname(p) == folder and e.kind == "file"]
    stats = [f"{p}\t{sim.lookup(p).mode:o} {sim.lookup(p).user} {sim.lookup(p).group}" for p in found]
    return [*stats, "--", *(f"{hashlib.sha1(sim.lookup(p).data()).hexdigest()}  {p}" for p in found)]


def _certificate(sim: SimHost, path: str) -> list[str]:
    entry = sim.lookup(path)
    if entry is None:
        return []
    if isinstance(entry.content, Cert):
        return entry.content.openssl_lines()
    return ["unreadable"]


def _together(sim: SimHost, requests) -> list[str]:
    """What Together's command prints: each fact's output, then its end marker with exit status 0."""
    lines = []
    for request in requests:
        handler = next((FACT_OUTPUT[c] for c in request.fact.__mro__ if c in FACT_OUTPUT), None)
        if handler is None or request.fact in sim.extra_facts:
            raise UnansweredFact(f"the simulated host cannot answer {request!r} within roles.facts.Together")
        lines += [*handler(sim, **dict(request.kwargs)), f"{Together.END} 0"]
    return lines


# Facts answered by printing what their command prints; the fact's own process() parses it.
FACT_OUTPUT: dict[type, Callable[..., list[str]]] = {
    files.File: lambda sim, path: sim.stat_line(path),  # also Link, Directory, Socket (by type)
    files.Sha1File: _hash_lines("sha1"),
    files.Sha256File: _hash_lines("sha256"),
    files.Md5File: _hash_lines("md5"),
    files.FindFiles: _find("file"),
    files.FindLinks: _find("link"),
    files.FindDirectories: _find("directory"),
    files.FindInFile: _find_in_file,
    files.FileContents: lambda sim, path: sim.content(path).splitlines() if sim.file(path) else [],
    systemd.SystemdEnabled: _systemd(lambda sim, unit: unit in sim.enabled, "UnitFileState", "enabled", "disabled"),
    systemd.SystemdStatus: _systemd(lambda sim, unit: unit in sim.running, "SubState", "running", "dead"),
    EnabledUnits: lambda sim: [
        f"{unit} {'enabled' if unit in sim.enabled else 'disabled'} enabled" for unit in sorted(sim.units())
    ],
    Together: _together,
    LoadedUnits: lambda sim: [
        f"{unit} loaded {'active running' if unit in sim.running else 'inactive dead'} {unit}" for unit in sorted(sim.units())
    ],
    deb.DebPackages: _deb_packages,
    server.LinuxDistribution: _os_release,
    server.Users: _users,
    Accounts: _accounts,
    server.Groups: lambda sim: [f"{g}:x:{i}:" for i, g in enumerate(sorted(sim.groups))],
    server.Date: lambda sim: [NOW.strftime(server.ISO_DATE_FORMAT)],
    PathStates: _path_states,
    ManagedFiles: _managed_files,
    Certificate: _certificate,
    NftTableLoaded: lambda sim, table: ["yes" if table in sim.nft_tables else "no"],
    SshConnection: lambda sim: [sim.ssh_connection] if sim.ssh_connection else [],
}
# Facts whose value is given directly.
FACT_VALUE: dict[type, Callable[..., Any]] = {
    server.Os: lambda sim: "Linux",
    server.TmpDir: lambda sim: "/tmp",
    server.Which: lambda sim, command: (
        f"/usr/bin/{command}"
        if command in BASE_COMMANDS or any(command in PACKAGE_COMMANDS.get(p, ()) for p in sim.packages)
        else None
    ),
}


# ---------------------------------------------------------------------------------------------
# The recording connector and the run
# ---------------------------------------------------------------------------------------------


@dataclass
class Step:
    """One thing the connector was asked to do: a shell command, or an upload of content to path."""

    kind: str  # "shell" | "upload"
    text: str = ""  # the command as the host would run it (secrets unmasked)
    path: str = ""
    content: str | bytes = ""


class RecordingConnector(BaseConnector):
    """Runs nothing: hands each command and upload, with the operation that issued it, to
    ``listener`` (set by :class:`Simulation`) and reports success."""

    handles_execution = True
    listener: Callable[[str | None, Step], str | None]  # returns the error of a failed step

    @staticmethod
    def make_names_data(name):  # pragma: no cover - hosts are built directly by the harness
        yield name, {}, []

    def _record(self, step: Step) -> str | None:
        return self.listener(self.host.nested_executing_op_hash or self.host.executing_op_hash, step)

    def run_shell_command(self, command, print_output=False, print_input=False, **arguments):
        text = command if isinstance(command, str) else command.get_raw_value()
        error = self._record(Step("shell", text=text))
        return error is None, CommandOutput([OutputLine("stderr", error)] if error else [])

    def put_file(self, filename_or_io, remote_filename, remote_temp_filename=None, *_, **arguments):
        return self._record(Step("upload", path=remote_filename, content=_read_source(filename_or_io))) is None

    def get_file(self, remote_filename, filename_or_io, remote_temp_filename=None, *_, **arguments):
        raise AssertionError(f"the deploy downloaded {remote_filename}; the harness does not model downloads")


def _read_source(source: str | IOBase) -> str | bytes:
    if hasattr(source, "read"):
        source.seek(0)
        data = source.read()
        source.seek(0)
    else:
        data = Path(source).read_bytes()
    if isinstance(data, bytes):
        try:
            return data.decode()
        except UnicodeDecodeError:
            return data
    return data


@dataclass
class Op:
    """One operation of the deploy, in execution order."""

    name: str  # the name= it was given (without the @deploy prefix)
    deploy: str  # the @deploy it ran in ("camgate cameras"), "" outside any
    changed: bool  # pyinfra's verdict: it ran at least one command, successfully
    steps: list[Step] = field(default_factory=list)

    @property
    def commands(self) -> list[str]:
        return [s.text for s in self.steps if s.kind == "shell"]

    @property
    def uploads(self) -> list[tuple[str, str | bytes]]:
        return [(s.path, s.content) for s in self.steps if s.kind == "upload"]

    def __repr__(self) -> str:
        return f"Op({self.name!r}, changed={self.changed}, commands={self.commands}, uploads={[p for p, _ in self.uploads]})"


@dataclass
class Result:
    """What a deploy did to the simulated host."""

    ops: list[Op]
    host_before: SimHost = field(repr=False)
    live: SimHost = field(repr=False)  # the host as the deploy left it (modelled effects applied)
    unmodelled: list[str] = field(repr=False)  # commands whose effect is not modelled (changed nothing)
    asked: list[str] = field(default_factory=list, repr=False)  # every fact the deploy asked: one round trip each

    def round_trips(self) -> list[str]:
        """The facts the deploy asked the host for, one round trip each, in order (class names)."""
        return [name.rsplit(".", 1)[-1] for name in self.asked]

    def names(self) -> list[str]:
        """Every operation the deploy declared, in order (changed or not)."""
        return [op.name for op in self.ops]

    def changes(self) -> list[str]:
        """The operations that did something (ran a command or uploaded), in order."""
        return [op.name for op in self.ops if op.changed]

    @property
    def changed(self) -> bool:
        return any(op.changed for op in self.ops)

    def op(self, name: str) -> Op:
        for op in self.ops:
            if op.name == name:
                return op
        raise KeyError(f"no operation named {name!r}; the deploy declared: {self.names()}")

    def commands(self) -> list[str]:
        """Every shell command run, in order."""
        return [text for op in self.ops for text in op.commands]

    @property
    def uploads(self) -> dict[str, str | bytes]:
        """{remote path: content} of every upload (the last one wins). An upload to a staging path
        that the same operation then moves into place (`mv -f STAGED DEST`, roles.operations.write_file)
        counts as an upload to DEST."""
        found = {}
        for op in self.ops:
            moved = dict(re.findall(r"mv -f (\S+) (\S+)$", " ".join(op.commands)))
            for path, content in op.uploads:
                found[moved.get(path, path)] = content
        return found

    def uploaded(self, path: str) -> str | bytes | None:
        return self.uploads.get(path)

    def host_after(self, ignore: Iterable[str] = ()) -> SimHost:
        """The simulated host as this deploy left it, for a re-deploy. Fails when a command ran whose
        effect the harness does not model, unless it matches one of the `ignore` regular expressions
        (the caller accepts that it changed nothing)."""
        missing = [text for text in self.unmodelled if not any(re.search(p, text) for p in ignore)]
        if missing:
            raise AssertionError(f"the harness cannot model the effect of {missing}; extend PROGRAMS or pass ignore=[...]")
        return self.live.copy()


@contextmanager
def _pyinfra_context(state: State, host: PyinfraHost) -> Iterator[None]:
    """pyinfra's globals for one run, restored afterwards, also when the deploy raises (pyinfra's
    own ``ContextManager.use`` does not restore on an exception)."""
    wanted = {ctx_state: state, ctx_inventory: state.inventory, ctx_config: state.config.copy(), ctx_host: host}
    previous = {ctx: ctx.get() for ctx in wanted}
    try:
        with mock.patch.object(pyinfra, "is_cli", False):
            for ctx, value in wanted.items():
                ctx.set(value)
            yield
    finally:
        for ctx, value in previous.items():
            ctx.set(value)
        # Host._get_temp_directory is memoized per host *name*, process-wide.
        PyinfraHost._get_temp_directory.cache.clear()


class Simulation:
    """One deploy of some roles to one simulated host; :meth:`run` may be called once.

    Facts asked while the roles are prepared describe the host before the deploy. While the
    operations execute, pyinfra evaluates each operation again and its facts describe the host as
    the operations before it left it (``live``: the modelled effects of every command and upload so
    far), as on a real host."""

    def __init__(self, gateway: tuple[str, dict], host: SimHost | None = None, diff: bool = False):
        name, data = gateway
        self.before = host or SimHost()
        self.live = self.before.copy()
        self.steps: dict[str | None, list[Step]] = {}
        self.unmodelled: list[str] = []
        self.unanswered: list[str] = []
        self.asked: list[str] = []
        self.failures: list[tuple[str | None, Step, str]] = []
        self.inventory = Inventory(([(name, data)], {}))
        self.host = self.inventory.get_host(name)
        self.host.connector_cls = RecordingConnector
        config = Config()
        config.PARALLEL = 1
        config.DIFF = diff  # `pyinfra --diff`: operations log what they change in files
        self.state = State(self.inventory, config)
        self.host.connector.listener = self._executed

    def declared(self) -> list[str]:
        """Names of the operations declared so far (also after a failed prepare)."""
        return [_split_name(self.state.op_meta[h].names)[1] for h in self.host.op_hash_order]

    def _executed(self, op_hash: str | None, step: Step) -> str | None:
        """Record the step, apply it to the live host; the error message when it fails there."""
        self.steps.setdefault(op_hash, []).append(step)
        try:
            modelled = apply_step(self.live, step)
        except CommandFailed as exc:
            self.failures.append((op_hash, step, str(exc)))
            return str(exc)
        except Exception as exc:  # a modelled program given what it cannot handle: say so
            self.unmodelled.append(f"{step.text} ({type(exc).__name__}: {exc})")
        else:
            if not modelled:
                self.unmodelled.append(step.text)
        return None

    def _get_fact(self, state, host, cls, args=None, kwargs=None, **_ignored):
        """Stands in for pyinfra.api.facts.get_fact: answers from the simulated host."""
        if issubclass(cls, ShortFactBase):
            return cls().process_data(self._get_fact(state, host, cls.fact, args, kwargs))
        fact = cls()
        if not (self.state.current_stage == StateStage.Prepare and host.current_op_hash):
            # Not an operation evaluated while prepared: `pyinfra -y` does not, it asks those when it runs it.
            self.asked.append(cls.name)
        fact_kwargs = {k: v for k, v in (kwargs or {}).items() if not k.startswith("_")}
        if args or fact_kwargs:
            fact_kwargs = getcallargs(fact.command, *(args or ()), **fact_kwargs)
            fact_kwargs.pop("self", None)
        sim = self.live if self.state.current_stage == StateStage.Execute else self.before
        try:
            return sim.answer(fact, fact_kwargs)
        except UnansweredFact as exc:
            self.unanswered.append(str(exc))
            raise

    def run(self, *roles: Callable[[], Any]) -> Result:
        """Prepare (call each role under pyinfra's context) then execute, as `pyinfra` does."""
        with mock.patch.object(pyinfra.api.host, "get_fact", self._get_fact), _pyinfra_context(self.state, self.host):
            self.state.set_stage(StateStage.Connect)
            connect_all(self.state)
            self.state.set_stage(StateStage.Prepare)
            for role in roles:
                role()
            self.state.set_stage(StateStage.Execute)
            try:
                run_ops(self.state)
            except PyinfraError as exc:
                if not self.failures:
                    raise
                op_hash, step, error = self.failures[0]
                name = _split_name(self.state.op_meta[op_hash].names)[1]
                raise DeployFailed(f"operation {name!r} failed: {step.text or step.path}: {error}") from exc
            self.state.set_stage(StateStage.Disconnect)
        if self.unanswered:  # also those an operation swallowed
            raise UnansweredFact("; ".join(self.unanswered))
        if None in self.steps:
            raise AssertionError(f"commands ran outside any operation: {[s.text or s.path for s in self.steps[None]]}")
        ops = []
        for op_hash in self.state.get_op_order():
            deploy_name, name = _split_name(self.state.op_meta[op_hash].names)
            meta = self.state.ops[self.host][op_hash].operation_meta
            ops.append(Op(name, deploy_name, meta.did_change(), self.steps.get(op_hash, [])))
        return Result(ops, self.before, self.live, self.unmodelled, self.asked)


def _split_name(names: set[str]) -> tuple[str, str]:
    (full,) = names
    deploy_name, _, name = full.rpartition(" | ")
    return deploy_name, name


def deploy(
    roles: Callable | Iterable[Callable], gateway: tuple[str, dict], host: SimHost | None = None, diff: bool = False
) -> Result:
    """Deploy one role (or several, in order) of `gateway` to the simulated `host` (bare by default);
    with `diff`, as `pyinfra --diff` does."""
    roles = (roles,) if callable(roles) else tuple(roles)
    return Simulation(gateway, host, diff).run(*roles)


def deploy_file(path: str | Path) -> Callable[[], None]:
    """A role that runs a deploy file (deploy.py) as `pyinfra INVENTORY deploy.py` does: the file's
    code executed with pyinfra's context set."""

    def run_file() -> None:
        runpy.run_path(str(path))

    run_file.__name__ = Path(path).name
    return run_file


def converge(
    roles: Callable | Iterable[Callable], gateway: tuple[str, dict], host: SimHost | None = None, ignore: Iterable[str] = ()
) -> tuple[Result, Result]:
    """Deploy, apply what the deploy did to the host, deploy again: (first result, re-deploy result).
    A role is idempotent when the second result has ``changed == False``."""
    first = deploy(roles, gateway, host)
    return first, deploy(roles, gateway, first.host_after(ignore))


# ---------------------------------------------------------------------------------------------
# What commands and uploads do to the simulated host (the live host while a deploy runs)
# ---------------------------------------------------------------------------------------------

# Versions a modelled `apt-get install` installs (what each release's archive has); others: "simulated".
ARCHIVE_VERSIONS = {
    ("debian", "12"): {"nginx": "1.22.1-9+deb12u1", "ffmpeg": "7:5.1.6-0+deb12u1"},
    ("ubuntu", "24.04"): {"nginx": "1.24.0-2ubuntu7", "ffmpeg": "7:6.1.1-3ubuntu5"},
    ("debian", "13"): {"nginx": "1.26.3-3+deb13u1", "ffmpeg": "7:7.1.5-0+deb13u1"},
}
# Packages a release's archive does not have: `apt-get install` of one fails, as it does there.
ARCHIVE_MISSING = {("debian", "13"): {"janus"}}


def apply_step(sim: SimHost, step: Step) -> bool:
    """Change the simulated host as the step changes a real one; False when the harness does not
    model it (the host is then left as it was). An upload writes the file (0644 root:root unless
    it existed); a shell command is split at `&&` and each part applied by the program it runs
    (see PROGRAMS)."""
    if step.kind == "upload":
        old = sim.paths.get(posixpath.normpath(step.path))
        kept = old if old and old.kind == "file" else Entry("file")
        sim._add(step.path, replace(kept, content=step.content, mtime=int(NOW.timestamp())))
        return True
    argv = shlex.split(step.text)
    parts = []
    while argv:
        part = argv[: argv.index("&&")] if "&&" in argv else argv
        argv = argv[len(part) + 1 :]
        while part and re.fullmatch(r"[A-Z_]+=.*", part[0]):  # VAR=value prefixes
            part = part[1:]
        program = PROGRAMS.get(posixpath.basename(part[0])) if part else None
        if program is None:
            return False
        parts.append((program, part[1:]))
    trial = sim.copy()
    if any(program(trial, args) is False for program, args in parts):
        return False
    sim.__dict__.update(trial.__dict__)
    return True


def _operands(args: list[str]) -> list[str]:
    return [a for a in args if not a.startswith("-")]


def _chmod(sim: SimHost, args: list[str]) -> None:
    mode, path = args[-2:]
    sim.paths[sim.resolve(path)] = replace(sim.lookup(path), mode=int(mode, 8))


def _chown(sim: SimHost, args: list[str]) -> None:
    owner, path = args[-2:]
    user, _, group = owner.partition(":")
    entry = sim.lookup(path)
    sim.paths[sim.resolve(path)] = replace(entry, user=user or entry.user, group=group or entry.group)


def _chgrp(sim: SimHost, args: list[str]) -> None:
    group, path = args[-2:]
    sim.paths[sim.resolve(path)] = replace(sim.lookup(path), group=group)


def _mkdir(sim: SimHost, args: list[str]) -> None:
    for path in _operands(args):
        missing = []
        while path not in ("/", "") and sim.lookup(path) is None:  # -p: the parents too
            missing.append(path)
            path = posixpath.dirname(path)
        for folder in reversed(missing):
            sim._add(folder, Entry("directory", 0o755))


def _mv(sim: SimHost, args: list[str]) -> None:
    source, target = _operands(args)[-2:]
    sim._add(target, sim.lookup(source))
    sim.remove(source)


def _rm(sim: SimHost, args: list[str]) -> None:
    for path in _operands(args):
        sim.remove(path)


def _ln(sim: SimHost, args: list[str]) -> bool | None:
    if "s" not in "".join(a for a in args if a.startswith("-")):
        return False  # hard links are not modelled
    target, path = _operands(args)[-2:]
    sim.link(path, target)
    return None


def _touch(sim: SimHost, args: list[str]) -> None:
    for path in _operands(args):
        entry = sim.lookup(path) or Entry("file")
        sim._add(path, replace(entry, mtime=int(NOW.timestamp())))


def _tar(sim: SimHost, args: list[str]) -> bool | None:
    """tar -x -f ARCHIVE -C DIR ...: each member becomes a file below DIR with the member's mode,
    owner and group (GNU tar as root with --same-owner --same-permissions)."""
    if "-x" not in args:
        return False
    import io
    import tarfile

    target = args[args.index("-C") + 1]
    data = sim.file(args[args.index("-f") + 1]).data()
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for member in archive.getmembers():
            path = posixpath.join(target, member.name)
            content = archive.extractfile(member).read().decode()
            sim._add(path, Entry("file", member.mode, member.uname, member.gname, content, mtime=int(NOW.timestamp())))
    return None


def _systemctl(sim: SimHost, args: list[str]) -> bool | None:
    """start/restart/reload/stop/enable [--now]/disable UNIT..., daemon-reload. Starting a unit runs its
    unit file's ExecStart= lines and stopping a running one its ExecStop= lines, where PROGRAMS
    models the program (a camera's ffmpeg is not; nft is)."""
    verb, *units = _operands(args)
    if verb == "daemon-reload" and not units:
        return None
    if verb not in ("start", "restart", "reload", "stop", "enable", "disable") or not units:
        return False
    for unit in units:
        if verb in ("start", "restart") or (verb == "stop" and unit in sim.running):
            _run_unit_commands(sim, unit, "ExecStop" if verb == "stop" else "ExecStart")
        if verb == "enable" and "--now" in args and unit not in sim.running:
            _run_unit_commands(sim, unit, "ExecStart")
            sim.running.add(unit)
        if verb in ("start", "restart", "reload"):
            sim.running.add(unit)
        elif verb == "stop":
            sim.running.discard(unit)
        elif verb == "enable":
            sim.enabled.add(unit)
        else:
            sim.enabled.discard(unit)
    return None


def _run_unit_commands(sim: SimHost, unit: str, key: str) -> None:
    text = next((sim.content(f"{d}/{unit}") for d in UNIT_DIRS if sim.file(f"{d}/{unit}")), None) or ""
    for line in re.findall(rf"^{key}=[-@+!:]*(.+)$", text, re.M):
        argv = shlex.split(line)
        program = PROGRAMS.get(posixpath.basename(argv[0]))
        if program is not None and program is not _systemctl:
            program(sim, argv[1:])


def _nft(sim: SimHost, args: list[str]) -> bool | None:
    """nft -f FILE loads the tables FILE defines; nft -c checks only; nft 'table inet X; delete table
    inet X' unloads X."""
    if "-c" in args:
        return None
    if "-f" in args:
        text = sim.content(args[args.index("-f") + 1]) or ""
        sim.nft_tables.update(re.findall(r"^table inet (\S+)", text, re.M))
        return None
    script = " ".join(args)
    deleted = re.findall(r"delete table inet (\w+)", script)
    if not deleted:
        return False
    sim.nft_tables.difference_update(deleted)
    return None


def _apt_get(sim: SimHost, args: list[str]) -> bool | None:
    words = [a for a in args if not a.startswith("-") and "::" not in a]
    if words[:1] == ["update"]:
        sim.apt_lists = True
        return None
    if words[:1] != ["install"]:
        return False
    versions = ARCHIVE_VERSIONS.get(sim.distro, {})
    missing = [p for p in words[1:] if p in ARCHIVE_MISSING.get(sim.distro, ())]
    if missing or not sim.apt_lists:
        raise CommandFailed(f"E: Package '{(missing or words[1:])[0]}' has no installation candidate")
    for package in words[1:]:
        sim.install(package, versions.get(package, "simulated"))
    return None


def _groupadd(sim: SimHost, args: list[str]) -> None:
    sim.groups.add(args[-1])


def _user_options(args: list[str]) -> tuple[dict[str, str], str]:
    options, i = {}, 0
    while i < len(args) - 1:
        if args[i] in ("-d", "-s", "-g", "-G", "-c", "-u", "--uid", "-p"):
            options[args[i]] = args[i + 1]
            i += 2
        else:
            options[args[i]] = ""
            i += 1
    return options, args[-1]


def _useradd(sim: SimHost, args: list[str]) -> None:
    options, name = _user_options(args)
    group = options.get("-g", name)
    sim.groups.add(group)
    more = [g for g in options.get("-G", "").split(",") if g]
    sim.users[name] = (options.get("-d", f"/home/{name}"), options.get("-s", "/bin/sh"), group, more)


def _usermod(sim: SimHost, args: list[str]) -> None:
    options, name = _user_options(args)
    home, shell, group, more = sim.users[name]
    added = [g for g in options.get("-G", "").split(",") if g]
    more = (more + [g for g in added if g not in more]) if "-a" in options else (added or more)
    sim.users[name] = (options.get("-d", home), options.get("-s", shell), options.get("-g", group), more)


def _certbot(sim: SimHost, args: list[str]) -> bool | None:
    """certbot certonly/delete --cert-name NAME: the lineage live/NAME (fullchain.pem carrying the -d
    names, privkey.pem) and renewal/NAME.conf (server = --server) appear or go."""
    name = args[args.index("--cert-name") + 1]
    live, renewal = f"/etc/letsencrypt/live/{name}", f"/etc/letsencrypt/renewal/{name}.conf"
    if args[0] == "delete":
        for path in (live, f"/etc/letsencrypt/archive/{name}", renewal):
            sim.remove(path)
        return None
    if args[0] != "certonly":
        return False
    names = tuple(args[i + 1] for i, a in enumerate(args) if a == "-d")
    sim.put(f"{live}/fullchain.pem", Cert(names))
    sim.put(f"{live}/privkey.pem", "simulated key\n", "0600")
    sim.put(renewal, f"version = 2.1.0\nserver = {args[args.index('--server') + 1]}\n")
    return None


def _script_line(sim: SimHost, script: str, pattern: str) -> str:
    """A value read from the script as uploaded to the simulated host (first group of `pattern`)."""
    text = sim.content(script) or ""
    match = re.search(pattern, text, re.M)
    if match is None:
        raise AssertionError(f"{script} on the simulated host has no line matching {pattern!r}")
    return match.group(1)


def _tls_use(sim: SimHost, args: list[str]) -> None:
    """camgate-tls-use DIR: the `current` symlink (named in the script) points at DIR; fails when DIR
    has no fullchain.pem and privkey.pem."""
    if not (sim.file(f"{args[0]}/fullchain.pem") and sim.file(f"{args[0]}/privkey.pem")):
        raise CommandFailed(f"camgate: {args[0]} has no fullchain.pem/privkey.pem")
    current = _script_line(sim, "/usr/local/lib/camgate/camgate-tls-use", r'^ln -sfn "\$dir" "(.+)\.new"$')
    sim.link(current, args[0])


def _tls_selfsigned(sim: SimHost, args: list[str]) -> None:
    """camgate-tls-selfsigned NAME...: out_dir (from the script) holds a certificate for NAME..."""
    out_dir = _script_line(sim, "/usr/local/lib/camgate/camgate-tls-selfsigned", r"^out_dir=(\S+)$")
    sim.put(f"{out_dir}/fullchain.pem", Cert(tuple(args)))
    sim.put(f"{out_dir}/privkey.pem", "simulated key\n", "0600")


def _firewall_apply(sim: SimHost, args: list[str]) -> None:
    """camgate-firewall-apply STAGED LIVE: LIVE becomes STAGED (0644 root) and its table is loaded."""
    staged, live = args
    sim.put(live, sim.content(staged), "0644")
    sim.nft_tables.update(re.findall(r"^table inet (\S+)", sim.content(staged), re.M))


def _nginx_apply(sim: SimHost, args: list[str]) -> None:
    """camgate-nginx-apply STAGED:LIVE...: each LIVE becomes a copy of STAGED (mode and owner kept),
    unless `nginx -t` rejects the result: then nothing changes and it fails. Of `nginx -t`, the
    harness models one check: every ssl_certificate/ssl_certificate_key file exists."""
    trial = sim.copy()
    for pair in args:
        staged, live = pair.split(":", 1)
        trial._add(live, sim.file(staged))
    nginx_t(trial)
    sim.paths = trial.paths


def nginx_t(sim: SimHost) -> None:
    """The part of `nginx -t` the harness models: certificate files named in /etc/nginx exist."""
    for path, entry in list(sim.paths.items()):
        if not path.startswith("/etc/nginx/") or entry.kind != "file" or not path.endswith(".conf"):
            continue
        for directive, cert in re.findall(r"^\s*(ssl_certificate(?:_key)?)\s+(\S+);", sim.content(path), re.M):
            if sim.file(cert) is None:
                raise CommandFailed(f'nginx: [emerg] cannot load certificate "{cert}" ({directive} in {path})')


def _link_secret(sim: SimHost, args: list[str]) -> None:
    """camgate-link-secret: creates the secret file named in the script (0600 root) when missing."""
    conf = _script_line(sim, "/usr/local/lib/camgate/camgate-link-secret", r"^conf=(\S+)$")
    if sim.file(conf) is None:
        sim.put(conf, 'set $camgate_link_secret "simulated";\n', "0600")


def _webrtc_secrets(sim: SimHost, args: list[str]) -> None:
    """camgate-webrtc-secrets: the env file and the nginx include named in the script (0600 root), when missing."""
    script = "/usr/local/lib/camgate/camgate-webrtc-secrets"
    env, conf = _script_line(sim, script, r"^env=(\S+)$"), _script_line(sim, script, r"^conf=(\S+)$")
    if sim.file(env) is None:
        sim.put(env, "CAMGATE_TURN_SECRET=simulated\n", "0600")
    if sim.file(conf) is None:
        sim.put(conf, 'set $camgate_turn_secret "simulated";\n', "0600")


# Programs whose effect on the host the harness models, by the name they are run by.
PROGRAMS: dict[str, Callable[[SimHost, list[str]], bool | None]] = {
    "chmod": _chmod,
    "chown": _chown,
    "chgrp": _chgrp,
    "mkdir": _mkdir,
    "rm": _rm,
    "mv": _mv,
    "tar": _tar,
    "ln": _ln,
    "touch": _touch,
    "systemctl": _systemctl,
    "apt-get": _apt_get,
    "groupadd": _groupadd,
    "useradd": _useradd,
    "usermod": _usermod,
    "certbot": _certbot,
    "camgate-tls-use": _tls_use,
    "camgate-tls-selfsigned": _tls_selfsigned,
    "camgate-firewall-apply": _firewall_apply,
    "camgate-nginx-apply": _nginx_apply,
    "camgate-link-secret": _link_secret,
    "camgate-webrtc-secrets": _webrtc_secrets,
    "nft": _nft,
}
