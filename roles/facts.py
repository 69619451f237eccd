"""Facts camgate reads from a gateway that pyinfra does not ship."""

from __future__ import annotations

import shlex

from pyinfra import host
from pyinfra.api import FactBase
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.server import LinuxDistribution

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


def installed_version_and_distro(package: str) -> tuple[str | None, str | None, str | None]:
    """(installed version of a deb package or None, distribution id, release) of the current host:
    what version-dependent choices (ffmpeg options, nginx directives) are made from."""
    # DebPackages maps a package to the set of its installed versions.
    versions = sorted(host.get_fact(DebPackages).get(package) or ())
    release_meta = host.get_fact(LinuxDistribution).get("release_meta", {})
    return (versions[-1] if versions else None, release_meta.get("ID"), release_meta.get("VERSION_ID"))
