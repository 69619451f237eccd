"""Operations camgate needs that pyinfra does not ship (shared by the roles, like roles.facts)."""

from __future__ import annotations

import io
import posixpath
import shlex
import tarfile
import weakref
from io import StringIO

from pyinfra import host
from pyinfra.api import FileUploadCommand, operation
from pyinfra.facts.files import File, Sha1File
from pyinfra.operations import apt, files, server, systemd
from pyinfra.operations.util import any_changed
from pyinfra.operations.util.files import chmod, chown, ensure_mode_int

from camgate import packages, paths
from camgate.model import Edge, Gateway
from camgate.render import render, render_htpasswd, sha1
from camgate.secrets import resolve_secret
from roles.facts import PathStates, before, directory_state, enabled_before, file_state, installed_before, known_file_state, running_before


class Unchanged:
    """Stands in for an operation a role did not need to declare: it changed nothing
    (``any_changed(...)`` and ``_if=op.did_change`` read it like a real one)."""

    def did_change(self) -> bool:
        return False

    def did_succeed(self) -> bool:
        return True


UNCHANGED = Unchanged()


# Per deploy (pyinfra State) and host: {dest: ((content, mode, user, group), operation)} of put().
_PUT_FILES: "weakref.WeakKeyDictionary[object, dict]" = weakref.WeakKeyDictionary()


def put(name: str, content: str, dest: str, mode: str = "0644", user: str = "root", group: str = "root", secret: bool = False):
    """files.put (or put_secret with `secret`) of `content`, declared only when the file differs from
    it on the host before the deploy (one snapshot of camgate's folders per deploy answers that);
    otherwise UNCHANGED, so a re-deploy spends no round trip on it. A second put of the same file
    in one deploy (a role's file another role needs earlier) returns the first one's operation."""
    wanted = (content, mode, user, group)
    earlier = _PUT_FILES.setdefault(host.state, {}).setdefault(host.name, {})
    if dest in earlier:
        if earlier[dest][0] != wanted:
            raise ValueError(f"{dest}: put twice in one deploy with different content or owner")
        return earlier[dest][1]
    op = _put_once(name, content, dest, mode, user, group, secret)
    earlier[dest] = (wanted, op)
    return op


def put_already(dest: str) -> bool:
    """Whether this deploy has put `dest` already (roles.operations.put), changed or not."""
    return dest in _PUT_FILES.get(host.state, {}).get(host.name, {})


def _put_once(name: str, content: str, dest: str, mode: str, user: str, group: str, secret: bool):
    covered, state = known_file_state(dest)
    if not covered:
        if secret:
            return put_secret(name=name, dest=dest, content=content, mode=mode, user=user, group=group)
        return files.put(name=name, src=StringIO(content), dest=dest, mode=mode, user=user, group=group)
    if state == file_state(content, mode, user, group):
        return UNCHANGED
    return write_file(name=name, dest=dest, content=content, mode=mode, user=user, group=group)


@operation()
def write_file(dest: str, content: str, mode: str = "0644", user: str = "root", group: str = "root"):
    """Write a file a role has already found to differ (roles.operations.put): one upload into the
    root-only /etc/camgate/upload, then one command gives it its owner and mode and moves it into
    place (atomically where both are on one filesystem). No fact is asked, no content is logged.

    + dest: path on the host (its folder is made if missing)
    + content: the file's text
    + mode, user, group: as files.put

    **Example:**

    .. code:: python

        write_file(name="Unit camgate-health.timer", dest="/etc/systemd/system/camgate-health.timer", content="...")
    """
    staged = f"{paths.UPLOAD_DIR}/{sha1(dest)[:16]}"
    yield FileUploadCommand(StringIO(content), staged, remote_temp_filename=staged)
    quoted, folder = shlex.quote(staged), shlex.quote(posixpath.dirname(dest))
    yield (
        f"mkdir -p {folder} && chown {shlex.quote(f'{user}:{group}')} {quoted} && chmod {int(mode, 8):o} {quoted} "
        f"&& mv -f {quoted} {shlex.quote(dest)}"
    )


def ensure_running(name: str, unit: str, enabled: bool = True):
    """systemd.service(running=True, enabled=...), declared only when the unit was not running (or
    not enabled) before the deploy."""
    if running_before(unit) and (not enabled or enabled_before(unit)):
        return UNCHANGED
    return systemd.service(name=name, service=unit, running=True, enabled=enabled)


# Per deploy (pyinfra State) and host: the apt operations declared so far, with the packages each installs.
_DECLARED_PACKAGES: "weakref.WeakKeyDictionary[object, list]" = weakref.WeakKeyDictionary()


def ensure_packages(name: str, packages: list[str]):
    """apt.packages (no recommends), declared only when one of them was not installed before the
    deploy and no earlier operation of this deploy installs them all (then that one is returned)."""
    missing = [package for package in packages if not installed_before(package)]
    if not missing:
        return UNCHANGED
    declared = _DECLARED_PACKAGES.setdefault(host.state, {}).setdefault(host.name, [])
    for covered, op in declared:
        if set(missing) <= covered:
            return op
    op = apt.packages(name=name, packages=packages, no_recommends=True)
    declared.append((set(packages), op))
    return op


def put_many(label: str, items: list[tuple[str, str, str, str, str, str]]) -> dict:
    """put() for several files of one role: {dest: operation}. Those that differ from the host
    travel together in one archive (put_files) when there are two or more; a single one keeps an
    operation of its own, named after it, which is what a day-to-day change shows.

    + items: (operation name, dest, content, mode, user, group) of each file
    """
    ops, differing = {}, []
    for name, dest, content, mode, user, group in items:
        covered, state = known_file_state(dest)
        if covered and state == file_state(content, mode, user, group):
            ops[dest] = UNCHANGED
        elif covered:
            differing.append((name, dest, content, mode, user, group))
        else:
            ops[dest] = put(name=name, content=content, dest=dest, mode=mode, user=user, group=group)
    if len(differing) == 1:
        name, dest, content, mode, user, group = differing[0]
        ops[dest] = write_file(name=name, dest=dest, content=content, mode=mode, user=user, group=group)
    elif differing:
        batch = put_files(name=f"{label} ({len(differing)} files, one archive)", files=[item[1:] for item in differing])
        ops.update({item[1]: batch for item in differing})
    return ops


@operation()
def put_files(files: list[tuple[str, str, str, str, str]]):
    """Upload several files in one archive: one upload and one command instead of several round trips
    per file (what a first deploy of many cameras spent its time on). The archive is unpacked in the
    root-only /etc/camgate/upload, each file with its owner and mode, then each is moved into place
    (atomically where both are on one filesystem, as with write_file).

    + files: (path, content, mode, user, group) of each; contents never logged (camera credentials
      travel this way)

    **Example:**

    .. code:: python

        put_files(name="Files of 64 cameras", files=[("/etc/camgate/credentials/front.url", "rtsp://...", "0600", "root", "root")])
    """
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for number, (_path, content, mode, user, group) in enumerate(files):
            data = content.encode()
            info = tarfile.TarInfo(str(number))
            info.size, info.mode, info.uname, info.gname = len(data), int(mode, 8), user, group
            tar.addfile(info, io.BytesIO(data))
    archive.seek(0)
    staged, unpacked = f"{paths.UPLOAD_DIR}/files.tar", f"{paths.UPLOAD_DIR}/files"
    yield FileUploadCommand(archive, staged, remote_temp_filename=staged)
    folders = sorted({posixpath.dirname(path) for path, *_ in files})
    moves = [f"mv -f {unpacked}/{number} {shlex.quote(path)}" for number, (path, *_) in enumerate(files)]
    # As root, tar gives each file its owner by name and its mode.
    yield " && ".join([
        f"rm -rf {unpacked}", f"mkdir -p {unpacked} {' '.join(shlex.quote(f) for f in folders)}",
        f"tar -x -f {staged} -C {unpacked} --same-owner --same-permissions", f"rm -f {staged}", *moves, f"rm -rf {unpacked}",
    ])  # fmt: skip


@operation()
def put_secret(dest: str, content: str, mode: str = "0600", user: str = "root", group: str = "root"):
    """Upload a file that holds a secret (camera URL with credentials, password hashes, the URL
    signing secret), with its owner and mode: files.put minus its --diff output, which prints the
    old and new lines of every file it changes.

    + dest: path on the host
    + content: the file's text; compared by SHA-1, never logged
    + mode, user, group: as files.put

    **Example:**

    .. code:: python

        put_secret(name="Credentials of camera front", dest="/etc/camgate/credentials/front.url",
                   content="rtsp://admin:secret@192.0.2.10/stream1\\n")
    """
    wanted_mode = ensure_mode_int(mode)
    remote = host.get_fact(File, path=dest)
    if not remote or host.get_fact(Sha1File, path=dest) != sha1(content):
        yield FileUploadCommand(StringIO(content), dest, remote_temp_filename=host.get_temp_filename(dest))
        yield chown(dest, user, group)
        yield chmod(dest, wanted_mode)
        return
    if (remote["user"], remote["group"]) != (user, group):
        yield chown(dest, user, group)
    if remote["mode"] != wanted_mode:
        yield chmod(dest, wanted_mode)


def was_running(unit: str) -> bool:
    """Whether `unit` runs on the host now, before this deploy changes anything."""
    return running_before(unit)


def restart_if_changed(name: str, unit: str, running_before: bool, *changes) -> None:
    """Restart `unit` when one of the `changes` operations changed something, if it ran before this
    deploy (one that did not starts with its new files: no restart needed)."""
    if running_before:
        systemd.service(name=name, service=unit, running=None, restarted=True, _if=any_changed(*changes))


# nginx's site files, shared by roles.nginx (a gateway) and roles.edge (a caching edge).
def prepare_nginx():
    """nginx (with njs) installed, the distribution's default site gone, camgate's apply script and
    folders in place; returns the operation that dropped the default site (or UNCHANGED)."""
    ensure_packages("Install nginx and njs", packages.NGINX)
    present = before(PathStates, paths=(paths.NGINX_DEFAULT_SITE, paths.NGINX_CAMGATE_DIR, paths.NGINX_STAGING_DIR))
    default_site = UNCHANGED
    if present.get(paths.NGINX_DEFAULT_SITE) or not installed_before("nginx"):  # the package brings it
        default_site = files.link(name="Drop the default site", path=paths.NGINX_DEFAULT_SITE, present=False)
    put(name="Script camgate-nginx-apply", content=render("bin/camgate-nginx-apply.j2"), dest=paths.NGINX_APPLY, mode="0755")
    for folder, group, mode in ((paths.NGINX_CAMGATE_DIR, "www-data", "0750"), (paths.NGINX_STAGING_DIR, "root", "0700")):
        if present.get(folder) != directory_state(mode, "root", group):
            files.directory(name=folder, path=folder, user="root", group=group, mode=mode)
    return default_site


def apply_site(bundle: list[tuple[str, str, str, str, str]], *changes) -> None:
    """Stage the bundle's files — (staged name, live path, content, group, mode) — and put them live
    together only if `nginx -t` accepts them, then reload; only when one differs from what is live or
    one of the `changes` operations changed something. Then nginx enabled and running."""
    # Never the content in pyinfra's output, not even with --diff (htpasswd hashes, secrets).
    put_many("Stage the camgate site", [
        (f"Stage {live}", f"{paths.NGINX_STAGING_DIR}/{name}", content, mode, "root", group) for name, live, content, group, mode in bundle
    ])
    # Compared with what is live (not with the staged copy), so an interrupted deploy still converges.
    differs = any(not (known_file_state(live)[1] or "").endswith(sha1(content)) for _name, live, content, *_ in bundle)
    pairs = " ".join(f"{paths.NGINX_STAGING_DIR}/{name}:{live}" for name, live, *_ in bundle)
    server.shell(
        name="Test and apply the camgate site (nginx -t, reload)",
        commands=[f"{paths.NGINX_APPLY} {pairs}"],
        _if=lambda: differs or any(change.did_change() for change in changes),
    )
    ensure_running("nginx enabled and running", "nginx.service")


def metrics_htpasswd(site: Gateway | Edge) -> tuple[str, str, str, str, str]:
    """The site bundle's entry for the metrics user (none without metrics_from): gateways and edges."""
    users = [(site.metrics_user, resolve_secret(site.metrics_password_ref, site.secrets_file))] if site.metrics else []
    return ("metrics.htpasswd", paths.METRICS_HTPASSWD, render_htpasswd(users), "www-data", "0640")
