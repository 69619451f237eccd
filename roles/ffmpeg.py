"""ffmpeg: the distribution's package (roles.facts.ffmpeg_major_on_host tells which version runs)."""

from pyinfra.api import deploy

from camgate import packages
from roles.operations import ensure_packages


@deploy("camgate ffmpeg")
def ffmpeg() -> None:
    """Guarantees: the distribution's ffmpeg is installed (no recommends). Reads no inventory fields."""
    ensure_packages("Install ffmpeg", packages.FFMPEG)
