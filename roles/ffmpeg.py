"""ffmpeg: the distribution's package (roles.facts.ffmpeg_major_on_host tells which version runs)."""

from pyinfra.api import deploy
from pyinfra.operations import apt


@deploy("camgate ffmpeg")
def ffmpeg() -> None:
    """Guarantees: the distribution's ffmpeg is installed (no recommends). Reads no inventory fields."""
    apt.packages(name="Install ffmpeg", packages=["ffmpeg"], no_recommends=True)
