"""Facts camgate reads from a gateway that pyinfra does not ship."""

from __future__ import annotations

import hashlib
import posixpath
import shlex
import weakref
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from pyinfra import host
from pyinfra.api import FactBase, StringCommand
from pyinfra.api.exceptions import FactProcessError
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.files import File, FindInFile, Link
from pyinfra.facts.server import Date, Groups, LinuxDistribution
from pyinfra.facts.systemd import SystemdEnabled, SystemdStatus
from pyinfra.operations.apt import APT_UPDATE_FILENAME

from camgate import paths

from camgate.ffmpeg import ffmpeg_major
from camgate.tls import parse_certificate_text


class Certificate(FactBase):
    """A PEM certificate on the host: ``{"names": [...], "serial": "...", "not_after": "..."}``,
    or ``None`` when the file (or the link it is reached through) does not exist."""

    def command(self, path):
        quoted = shlex.quote(path)
        return (
            f"if test -e {quoted}; then openssl x509 -in {quoted} -noout -serial -enddate "
            f"-ext subjectAltName 2>/dev/null || echo 'unreadable'; fi"
        )

    def requires_command(self, *args, **kwargs):
        return "openssl"

    def process(self, output):
        return parse_certificate_text("\n".join(output))


class SshConnection(FactBase):
    """``$SSH_CONNECTION`` of the SSH session pyinfra runs in ("client port server port"), or ``None``.

    With sudo (which resets the environment) it is read from the nearest ancestor process that has
    it, i.e. the session's shell."""

    def command(self):
        return (
            'c="${SSH_CONNECTION:-${SSH_CLIENT:-}}"; p=$$; '
            'while [ -z "$c" ] && [ "${p:-1}" -gt 1 ]; do '
            "c=$(tr '\\0' '\\n' < /proc/$p/environ 2>/dev/null | sed -n 's/^SSH_CONNECTION=//p' | head -n 1); "
            "p=$(sed -n 's/^PPid:[[:space:]]*//p' /proc/$p/status 2>/dev/null); "
            'done; echo "$c"'
        )

    def process(self, output):
        text = "\n".join(output).strip()
        return text or None


class NftTableLoaded(FactBase):
    """Whether ``table inet <name>`` is in the kernel now (False when nft is missing or not allowed)."""

    def command(self, table):
        return f"if nft list table inet {table} >/dev/null 2>&1; then echo yes; else echo no; fi"

    def process(self, output):
        return "yes" in output


class Asked(NamedTuple):
    """One fact with its arguments (as sorted (name, value) pairs), as `Together` and `before` take it."""

    fact: type[FactBase]
    kwargs: tuple = ()

    def __repr__(self) -> str:
        arguments = ", ".join(f"{name}={value!r}" for name, value in self.kwargs)
        return f"{self.fact.name}({arguments})" if arguments else self.fact.name


class Together(FactBase):
    """Several facts in one round trip: each one's command in a subshell of its own, one after the
    other, each output parsed by its own fact; a tuple of their values, in order. A fact whose
    `requires_command` is missing gets its default (as pyinfra gives while the roles are prepared);
    one whose command fails makes this fact fail, as it would have alone."""

    END = "##CAMGATE_FACT_END##"
    MISSING = "##CAMGATE_NO_COMMAND##"

    def command(self, requests):
        self.facts = []
        parts = []
        for request in requests:
            fact, kwargs = request.fact(), dict(request.kwargs)
            self.facts.append(fact)
            command = fact.command(**kwargs) if callable(fact.command) else fact.command  # may keep state for process()
            text = command.get_raw_value() if isinstance(command, StringCommand) else command
            required = fact.requires_command(**kwargs)
            text = f"(\n{text}\n)"
            if required:
                text = f"if command -v {shlex.quote(required)} >/dev/null 2>&1; then {text}; else echo '{self.MISSING}'; fi"
            parts.append(f'{text}; echo "{self.END} $?"')
        return "\n".join(parts)

    def process(self, output):
        values, lines = [], []
        for line in output:
            if not line.startswith(f"{self.END} "):
                lines.append(line)
                continue
            fact = self.facts[len(values)]
            status = line.rsplit(" ", 1)[-1]
            if status != "0":
                raise FactProcessError(f"{fact.name} failed (exit status {status})")
            values.append(fact.process(lines) if lines and lines != [self.MISSING] else fact.default())
            lines = []
        if len(values) != len(self.facts):
            raise FactProcessError(f"{len(values)} of {len(self.facts)} facts answered")
        return tuple(values)


# Facts read while the roles are prepared describe the host before the deploy, and pyinfra asks the
# host again at every call; these are asked once per deploy (per pyinfra State) and shared by the roles.
_BEFORE: "weakref.WeakKeyDictionary[object, dict]" = weakref.WeakKeyDictionary()


def before(fact: type[FactBase], **kwargs) -> object:
    """`host.get_fact(fact, **kwargs)` as the host was before this deploy, asked once per deploy.
    The first call of a deploy asks everything in `snapshot()` with it, in one round trip
    (`Together`); a PathStates is answered from an earlier one that covered all its paths.
    Only for roles (the prepare stage), never inside an operation, which must see the live host."""
    asked = _BEFORE.setdefault(host.state, {}).setdefault(host.name, {})
    key = Asked(fact, tuple(sorted(kwargs.items())))
    if key not in asked and fact is PathStates:
        wanted = set(kwargs["paths"])
        for earlier, states in list(asked.items()):
            if earlier.fact is PathStates and wanted <= set(dict(earlier.kwargs)["paths"]):
                asked[key] = {path: state for path, state in states.items() if path in wanted}
                break
    if key not in asked:
        requests = [key] if asked else list(dict.fromkeys([*snapshot(), key]))
        if len(requests) == 1:
            asked[key] = host.get_fact(fact, **kwargs)
        else:
            values = host.get_fact(Together, requests=tuple(requests)) or [r.fact().default() for r in requests]
            asked.update(zip(requests, values))
    return asked[key]


def installed_before(package: str) -> bool:
    return package in (before(DebPackages) or {})


class Accounts(FactBase):
    """The local users from /etc/passwd with their primary and supplementary groups from /etc/group
    ({name: {"home", "shell", "group", "groups"}}), read with two `cat`s. pyinfra's Users runs about
    eight programs per user (lastlog, id, grep...): 1 s of a no-op while 64 cameras start."""

    default = dict

    def command(self):
        return "cat /etc/passwd; echo '--'; cat /etc/group"

    def process(self, output) -> dict[str, dict]:
        text = list(output)
        split = text.index("--") if "--" in text else len(text)
        groups = [line.split(":") for line in text[split + 1 :] if line.count(":") >= 3]
        by_gid = {fields[2]: fields[0] for fields in groups}
        users = {}
        for line in text[:split]:
            fields = line.split(":")
            if len(fields) < 7:
                continue
            name, gid, home, shell = fields[0], fields[3], fields[5], fields[6]
            primary = by_gid.get(gid)
            members = [g[0] for g in groups if name in g[3].split(",")]
            users[name] = {"home": home, "shell": shell, "group": primary, "groups": sorted({*members, *([primary] if primary else [])})}
        return users


class LoadedUnits(SystemdStatus):
    """`SystemdStatus` for every unit systemd has loaded, read from one `systemctl list-units`: a single
    manager call, where `systemctl show '*'` asks each unit for its properties (4.5 s while 64 camera
    units start, against 0.02 s)."""

    def command(self):
        return "systemctl list-units --all --plain --no-legend --full --no-pager"

    def process(self, output) -> dict[str, bool]:
        states = {}
        for line in output:
            fields = line.replace("\u25cf", " ").split()  # failed units may carry a bullet
            if len(fields) >= 4:
                # Starting (activating: start-pre, auto-restart) counts as running: systemd is on it.
                states[fields[0]] = fields[3] in self.state_values or fields[2] in ("activating", "reloading")
        return states


class EnabledUnits(SystemdEnabled):
    """`SystemdEnabled` for every unit file, from one `systemctl list-unit-files`: the state it prints
    is the UnitFileState that `systemctl show` gives SystemdEnabled (enabled or static: True). Not for
    an instance of a template unit (`getty@tty1.service`), which it lists under the template's name."""

    def command(self):
        return "systemctl list-unit-files --no-legend --no-pager --plain"

    def process(self, output) -> dict[str, bool]:
        states = {}
        for line in output:
            fields = line.split()
            if len(fields) >= 2:
                states[fields[0]] = fields[1] in self.state_values
        return states


def running_before(unit: str) -> bool:
    return bool(before(LoadedUnits).get(unit))


def loaded_before(unit: str) -> bool:
    """Whether systemd had `unit` loaded (running or not) before this deploy."""
    return unit in before(LoadedUnits)


def enabled_before(unit: str) -> bool:
    return bool(before(EnabledUnits).get(unit))


def enabled_units_before(units) -> dict[str, bool]:
    """Which of `units` were enabled before this deploy (every unit file's state is in the snapshot)."""
    states = before(EnabledUnits)
    return {unit: bool(states.get(unit)) for unit in units}


def apt_lists_fresh_before(seconds: int) -> bool:
    """Whether apt's lists were refreshed less than `seconds` before this deploy, judged as
    `apt.update(cache_time=seconds)` judges it (the stamp's mtime against the host's clock)."""
    stamp = before(File, path=APT_UPDATE_FILENAME)
    if not (stamp and stamp["mtime"]):
        return False
    now = datetime.fromtimestamp(before(Date).timestamp(), timezone.utc).replace(tzinfo=None)
    return stamp["mtime"] > now - timedelta(seconds=seconds)


def installed_version_and_distro(package: str) -> tuple[str | None, str | None, str | None]:
    """(installed version of a deb package or None, distribution id, release) of the current host:
    what version-dependent choices (ffmpeg options, nginx directives) are made from."""
    # DebPackages maps a package to the set of its installed versions.
    versions = sorted(before(DebPackages).get(package) or ())
    release_meta = before(LinuxDistribution).get("release_meta", {})
    return (versions[-1] if versions else None, release_meta.get("ID"), release_meta.get("VERSION_ID"))


def stat_and_hash_lines(output) -> tuple[dict[str, str], dict[str, str]]:
    """({path: stat}, {path: sha1}) from `<path>\t<stat>` lines, a `--` marker, then sha1sum lines."""
    stats, hashes, seen_marker = {}, {}, False
    for line in output:
        if line == "--":
            seen_marker = True
        elif not seen_marker and "\t" in line:
            path, stat = line.split("\t", 1)
            stats[path] = stat
        elif seen_marker and "  " in line:
            digest, path = line.split("  ", 1)
            hashes[path] = digest
    return stats, hashes


class PathStates(FactBase):
    """Many paths in one round trip: ``{path: "file 600 root root <sha1>" | "directory 750 camgate camgate"}``
    for those that exist. Roles with one file per camera compare this with what they would write and
    touch only what differs, so a re-deploy does not cost a round trip per camera."""

    default = dict  # what pyinfra returns when none of the paths exists (no output)

    def command(self, paths):
        # Two processes whatever the count (a shell loop forks two per path: 2.9 s for 64 cameras' files
        # while their units start); -H follows a link given as a path, as `test -f` did.
        quoted = " ".join(shlex.quote(p) for p in paths)
        return (
            f"find -H {quoted} -maxdepth 0 \\( -type f -o -type d \\) -printf '%p\\t%y %m %u %g\\n' 2>/dev/null; "
            f"echo '--'; find -H {quoted} -maxdepth 0 -type f -exec sha1sum {{}} + 2>/dev/null; true"
        )

    def process(self, output):
        stats, hashes = stat_and_hash_lines(output)
        states = {}
        for path, stat in stats.items():
            kind, owner = stat.split(" ", 1)
            if kind == "d":
                states[path] = f"directory {owner}"
            elif path in hashes:
                states[path] = f"file {owner} {hashes[path]}"
        return states


class ManagedFiles(FactBase):
    """Every regular file directly in these folders, and these files, in one round trip:
    ``{path: "file 644 root root <sha1>"}``, the format of PathStates."""

    default = dict

    def command(self, folders, files):
        quoted = " ".join(shlex.quote(p) for p in (*folders, *files))
        return (
            f"find {quoted} -maxdepth 0 -type f -printf '%p\\t%m %u %g\\n' 2>/dev/null; "
            f"for d in {' '.join(shlex.quote(f) for f in folders)}; do "
            'test -d "$d" && find "$d" -mindepth 1 -maxdepth 1 -type f -printf "%p\\t%m %u %g\\n"; done; '
            f"echo '--'; find {quoted} -maxdepth 1 -type f -exec sha1sum {{}} + 2>/dev/null; true"
        )

    def process(self, output):
        stats, hashes = stat_and_hash_lines(output)
        return {path: f"file {stat} {hashes[path]}" for path, stat in stats.items() if path in hashes}


# The folders (their files, not below) and files camgate writes, read in one round trip per deploy:
# a role puts a file only where it differs from what it would write (roles.operations.put).
MANAGED_FOLDERS = (
    paths.ETC, paths.CREDENTIALS_DIR, paths.LIB, paths.UNIT_DIR, paths.NGINX_CAMGATE_DIR, paths.NGINX_STAGING_DIR,
    "/etc/nginx/conf.d", paths.COTURN_TLS_DIR,
    *{posixpath.dirname(p) for p in (paths.COTURN_DROPIN, paths.CERTBOT_DROPIN, paths.NODE_EXPORTER_DROPIN,
                                     paths.LETSENCRYPT_RENEWAL_HOOK, paths.MTAIL_DROPIN)},
)  # fmt: skip
MANAGED_FILES = (paths.COTURN_CONFIG, paths.MTAIL_PROGRAM)


MANAGED = {"folders": tuple(sorted(MANAGED_FOLDERS)), "files": MANAGED_FILES}


def managed_files() -> dict[str, str]:
    """The snapshot: every file in camgate's folders before the deploy, with its state."""
    return before(ManagedFiles, **MANAGED)


def known_file_state(path: str) -> tuple[bool, str | None]:
    """(whether the snapshot covers `path`, its state before the deploy or None when absent)."""
    covered = path in MANAGED_FILES or posixpath.dirname(path) in MANAGED_FOLDERS
    if not covered:
        return False, None
    return True, managed_files().get(path)


def file_states_before(files) -> dict[str, str]:
    """PathStates of these files before the deploy: from the snapshot where it covers them (a
    symlink there counts as absent: it is replaced by the file), the others in one PathStates."""
    states, others = {}, []
    for path in files:
        covered, state = known_file_state(path)
        if not covered:
            others.append(path)
        elif state is not None:
            states[path] = state
    if others:
        states.update(before(PathStates, paths=tuple(others)))
    return states


# The folders the roles check with PathStates whatever the site (base, tls, nginx, webrtc, edge).
SNAPSHOT_PATHS = (
    paths.ETC, paths.CREDENTIALS_DIR, paths.UPLOAD_DIR, paths.LIB, paths.TLS_DIR, paths.TLS_PROVIDED, paths.ACME_WEBROOT,
    paths.NGINX_DEFAULT_SITE, paths.NGINX_CAMGATE_DIR, paths.NGINX_STAGING_DIR, *paths.OLD_JANUS_FILES,
    posixpath.dirname(paths.EDGE_CACHE_DIR), paths.EDGE_CACHE_DIR,
)  # fmt: skip
LETSENCRYPT_CERTIFICATE = f"{paths.LETSENCRYPT_LIVE}/fullchain.pem"
SELFSIGNED_CERTIFICATE = f"{paths.TLS_SELFSIGNED}/fullchain.pem"
PROVIDED_CERTIFICATE, PROVIDED_KEY = f"{paths.TLS_PROVIDED}/fullchain.pem", f"{paths.TLS_PROVIDED}/privkey.pem"


def snapshot() -> list[Asked]:
    """What a deploy reads of the host before it changes anything, asked in one round trip by the
    deploy's first `before` (a no-op re-deploy used to spend one round trip on each, 25 in all):
    packages, release, users and groups; camgate's files and folders; unit states; the age of apt's
    lists (roles.base); the TLS links, both certificates and the ACME server of the renewal config
    (roles.tls, roles.letsencrypt); the SSH session and whether camgate's nft table is loaded
    (roles.firewall)."""
    facts = [
        (DebPackages, {}), (LinuxDistribution, {}), (Accounts, {}), (Groups, {}),
        (ManagedFiles, MANAGED), (PathStates, {"paths": SNAPSHOT_PATHS}),
        (LoadedUnits, {}), (EnabledUnits, {}), (File, {"path": APT_UPDATE_FILENAME}), (Date, {}),
        (Link, {"path": paths.TLS_CURRENT}), (Certificate, {"path": LETSENCRYPT_CERTIFICATE}),
        (Certificate, {"path": SELFSIGNED_CERTIFICATE}), (Link, {"path": PROVIDED_CERTIFICATE}), (Link, {"path": PROVIDED_KEY}),
        (File, {"path": paths.LETSENCRYPT_RENEWAL_CONF}),
        (FindInFile, {"path": paths.LETSENCRYPT_RENEWAL_CONF, "pattern": "^server"}),
        (SshConnection, {}), (NftTableLoaded, {"table": paths.FIREWALL_TABLE}),
    ]  # fmt: skip
    return [Asked(fact, tuple(sorted(kwargs.items()))) for fact, kwargs in facts]


def file_state(content: str, mode: str, user: str = "root", group: str = "root") -> str:
    """What PathStates reports for a file with this content, mode and owner."""
    return f"file {int(mode, 8):o} {user} {group} {hashlib.sha1(content.encode()).hexdigest()}"


def directory_state(mode: str, user: str, group: str) -> str:
    return f"directory {int(mode, 8):o} {user} {group}"


def ffmpeg_major_on_host() -> int:
    """The installed ffmpeg's major version; on a first deploy, the one the distribution ships."""
    return ffmpeg_major(*installed_version_and_distro("ffmpeg"))
