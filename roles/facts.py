"""Facts camgate reads from a gateway that pyinfra does not ship."""

from __future__ import annotations

import hashlib
import shlex

from pyinfra import host
from pyinfra.api import FactBase
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.server import LinuxDistribution

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


class AptCandidate(FactBase):
    """The version apt would install of a package (``apt-cache policy``): a version string, ``None``
    when the host's apt sources have no such package (Debian 13 has no `janus`), or ``"unknown"``
    when the host has no apt lists yet to tell (a bare image, before the first `apt-get update`)."""

    def command(self, package):
        quoted = shlex.quote(package)
        return (
            "if ls /var/lib/apt/lists/ 2>/dev/null | grep -q '_Packages'; then "
            f"apt-cache policy {quoted} 2>/dev/null | sed -n 's/^ *Candidate: //p' | grep . || echo '(none)'; "
            "else echo unknown; fi"
        )

    def requires_command(self, *args, **kwargs):
        return "apt-cache"

    def process(self, output):
        value = "\n".join(output).strip()
        return None if value in ("", "(none)") else value


def installed_version_and_distro(package: str) -> tuple[str | None, str | None, str | None]:
    """(installed version of a deb package or None, distribution id, release) of the current host:
    what version-dependent choices (ffmpeg options, nginx directives) are made from."""
    # DebPackages maps a package to the set of its installed versions.
    versions = sorted(host.get_fact(DebPackages).get(package) or ())
    release_meta = host.get_fact(LinuxDistribution).get("release_meta", {})
    return (versions[-1] if versions else None, release_meta.get("ID"), release_meta.get("VERSION_ID"))


class PathStates(FactBase):
    """Many paths in one round trip: ``{path: "file 600 root root <sha1>" | "directory 750 camgate camgate"}``
    for those that exist. Roles with one file per camera compare this with what they would write and
    touch only what differs, so a re-deploy does not cost a round trip per camera."""

    default = dict  # what pyinfra returns when none of the paths exists (no output)

    def command(self, paths):
        quoted = " ".join(shlex.quote(p) for p in paths)
        return (
            f"for p in {quoted}; do "
            'if [ -f "$p" ]; then printf "%s\\tfile %s %s\\n" "$p" "$(stat -c "%a %U %G" "$p")" "$(sha1sum < "$p" | cut -d" " -f1)"; '
            'elif [ -d "$p" ]; then printf "%s\\tdirectory %s\\n" "$p" "$(stat -c "%a %U %G" "$p")"; fi; '
            "done"
        )

    def process(self, output):
        return dict(line.split("\t", 1) for line in output if "\t" in line)


def file_state(content: str, mode: str, user: str = "root", group: str = "root") -> str:
    """What PathStates reports for a file with this content, mode and owner."""
    return f"file {int(mode, 8):o} {user} {group} {hashlib.sha1(content.encode()).hexdigest()}"


def directory_state(mode: str, user: str, group: str) -> str:
    return f"directory {int(mode, 8):o} {user} {group}"


def ffmpeg_major_on_host() -> int:
    """The installed ffmpeg's major version; on a first deploy, the one the distribution ships."""
    return ffmpeg_major(*installed_version_and_distro("ffmpeg"))
