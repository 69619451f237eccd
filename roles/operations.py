"""Operations camgate needs that pyinfra does not ship (shared by the roles, like roles.facts)."""

from __future__ import annotations

from io import StringIO

from pyinfra import host
from pyinfra.api import FileUploadCommand, operation
from pyinfra.facts.files import File, Sha1File
from pyinfra.facts.systemd import SystemdStatus
from pyinfra.operations import systemd
from pyinfra.operations.util import any_changed
from pyinfra.operations.util.files import chmod, chown, ensure_mode_int

from camgate.render import sha1


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
    return bool(host.get_fact(SystemdStatus).get(unit))


def restart_if_changed(name: str, unit: str, running_before: bool, *changes) -> None:
    """Restart `unit` when one of the `changes` operations changed something, if it ran before this
    deploy (one that did not starts with its new files: no restart needed)."""
    if running_before:
        systemd.service(name=name, service=unit, running=None, restarted=True, _if=any_changed(*changes))

