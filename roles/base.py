"""Base: apt lists, the dedicated `camgate` system user and group, camgate's directories; then the
distribution packages in one apt run."""

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.server import Groups
from pyinfra.operations import apt, files, server, systemd

from camgate import packages, paths
from camgate.inventory import site_from_host
from camgate.render import render
from camgate.tls import njs_missing
from roles.facts import Accounts, PathStates, apt_lists_fresh_before, before, directory_state, installed_version_and_distro, known_file_state
from roles.operations import ensure_packages, ensure_running, put, put_already

APT_CACHE_SECONDS = 3600


@deploy("camgate base")
def base() -> None:
    """Guarantees: apt lists at most an hour old (for gateway_packages); system user/group `camgate`
    (no login, no home); /etc/camgate (0755) and /etc/camgate/credentials (0700, root only);
    /usr/local/lib/camgate; with hide_processes (default), /proc mounted hidepid=invisible now and at every boot, so no
    other user can read a camera URL from ffmpeg's argument list. Reads: hide_processes."""
    require_supported_release()
    if not apt_lists_fresh_before(APT_CACHE_SECONDS):  # from the deploy's snapshot, not two more round trips
        apt.update(name="Refresh apt lists (at most hourly)", cache_time=APT_CACHE_SECONDS)
    user = (before(Accounts) or {}).get("camgate") or {}
    if "camgate" not in (before(Groups) or ()) or (user.get("group"), user.get("shell"), user.get("home")) != ("camgate", "/usr/sbin/nologin", "/nonexistent"):
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
    folders = ((paths.ETC, "0755"), (paths.CREDENTIALS_DIR, "0700"), (paths.UPLOAD_DIR, "0700"), (paths.LIB, "0755"))
    present = before(PathStates, paths=tuple(path for path, _ in folders))
    for path, mode in folders:
        if present.get(path) != directory_state(mode, "root", "root"):
            files.directory(name=path, path=path, user="root", group="root", mode=mode)
    hide_processes(site_from_host(host).hide_processes)


@deploy("camgate packages")
def gateway_packages() -> None:
    """Guarantees: in one apt run (one download, one dpkg run, its triggers once), every package the
    gateway needs that needs no configuration first (python3, curl, ffmpeg, nginx and njs, nftables,
    openssl, certbot, as the inventory asks), and those of camgate.packages.first_start_files whose
    files this deploy has put already (deploy.py puts them first); a package whose files are not in
    place is left to its role. Reads: firewall, tls, metrics_from."""
    site = site_from_host(host)
    ready = [package for package, files in packages.first_start_files(site).items() if all(map(put_already, files))]
    ensure_packages("Install the gateway's packages", packages.plain_packages(site) + ready)


def require_supported_release() -> None:
    """Stop before the first change on a release camgate cannot serve the app's API on."""
    _version, distro, release = installed_version_and_distro("nginx")
    if njs_missing(distro, release):
        raise DeployError(
            f"host {host.name!r}: {distro} {release} ships no njs module for its nginx (libnginx-mod-http-js), "
            "which the app's API needs; fix: use Debian 12 or Ubuntu 24.04 (or newer) for the gateway"
        )


def hide_processes(wanted: bool) -> None:
    unit = paths.HIDEPID_SERVICE
    unit_path = paths.unit_path(unit)
    if wanted:
        unit_file = put(name=f"Unit {unit}", content=render(f"systemd/{unit}.j2"), dest=unit_path)
        systemd.daemon_reload(name="Reload systemd (hidepid unit)", _if=unit_file.did_change)
        ensure_running("Hide other users' processes", unit)
    elif known_file_state(unit_path)[1] is not None:
        systemd.service(name="Show processes again", service=unit, running=False, enabled=False)
        files.file(name=f"Remove {unit}", path=unit_path, present=False)
