"""ffmpeg: the package, and which major version the camera units must be written for."""

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.server import LinuxDistribution
from pyinfra.operations import apt

from camgate.ffmpeg import ffmpeg_major


@deploy("camgate ffmpeg")
def ffmpeg() -> None:
    """Guarantees: the distribution's ffmpeg is installed (no recommends). Reads no inventory fields."""
    apt.packages(name="Install ffmpeg", packages=["ffmpeg"], no_recommends=True)


def ffmpeg_major_on_host() -> int:
    """The installed ffmpeg's major version; on a first deploy, the one the distribution ships."""
    # DebPackages maps a package to the set of its installed versions (one, for ffmpeg).
    installed = sorted(host.get_fact(DebPackages).get("ffmpeg") or ())
    release_meta = host.get_fact(LinuxDistribution).get("release_meta", {})
    return ffmpeg_major(installed[-1] if installed else None, release_meta.get("ID"), release_meta.get("VERSION_ID"))
