"""Base: apt lists, the dedicated `camgate` system user and group, and camgate's directories."""

from pyinfra.api import deploy
from pyinfra.operations import apt, files, server

APT_CACHE_SECONDS = 3600


@deploy("camgate base")
def base() -> None:
    """Guarantees: apt lists at most an hour old; system user/group `camgate` (no login, no home);
    /etc/camgate (0755) and /etc/camgate/credentials (0700, root only); /usr/local/lib/camgate.
    Reads no inventory fields."""
    apt.update(name="Refresh apt lists (at most hourly)", cache_time=APT_CACHE_SECONDS)
    server.group(name="Group camgate", group="camgate", system=True)
    server.user(
        name="User camgate",
        user="camgate",
        group="camgate",
        system=True,
        shell="/usr/sbin/nologin",
        home="/nonexistent",
        ensure_home=False,
    )
    files.directory(name="/etc/camgate", path="/etc/camgate", user="root", group="root", mode="0755")
    files.directory(
        name="/etc/camgate/credentials", path="/etc/camgate/credentials", user="root", group="root", mode="0700"
    )
    files.directory(name="/usr/local/lib/camgate", path="/usr/local/lib/camgate", user="root", group="root", mode="0755")
