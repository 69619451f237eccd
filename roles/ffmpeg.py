"""ffmpeg: the package, and which major version the camera units must be written for."""

from pyinfra.api import deploy
from pyinfra.operations import apt

from camgate.ffmpeg import ffmpeg_major
from roles.facts import installed_version_and_distro


@deploy("camgate ffmpeg")
def ffmpeg() -> None:
    """Guarantees: the distribution's ffmpeg is installed (no recommends). Reads no inventory fields."""
    apt.packages(name="Install ffmpeg", packages=["ffmpeg"], no_recommends=True)


def ffmpeg_major_on_host() -> int:
    """The installed ffmpeg's major version; on a first deploy, the one the distribution ships."""
    return ffmpeg_major(*installed_version_and_distro("ffmpeg"))
