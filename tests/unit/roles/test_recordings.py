"""roles.recordings on a simulated host: the retention timer exists exactly while a camera records."""

from roles.recordings import recordings

from .harness import SimHost, converge, deploy
from .sites import cam, site

UNITS = "/etc/systemd/system"
TIMER = "camgate-retention.timer"
RETENTION_FILES = (f"{UNITS}/{TIMER}", f"{UNITS}/camgate-retention.service", "/etc/camgate/retention.json",
                   "/usr/local/lib/camgate/camgate-retention")  # fmt: skip


def test_a_recording_camera_gets_its_folder_and_the_retention_timer(passwords):
    result = deploy(recordings, site(cam("front", record=True)))

    after = result.host_after()
    folder = after.lookup("/var/lib/camgate/recordings/front")
    assert (folder.kind, oct(folder.mode), folder.user, folder.group) == ("directory", "0o750", "camgate", "camgate")
    assert TIMER in after.running & after.enabled
    assert [path for path in RETENTION_FILES if after.file(path) is None] == []


def test_no_recording_camera_left_removes_the_retention_timer_and_its_files_but_not_the_recordings(passwords):
    _, settled = converge(recordings, site(cam("front", record=True)))
    recording = "/var/lib/camgate/recordings/front/20250601T120000Z.ts"
    host = settled.host_after().put(recording, b"\x47", "0640", "camgate", "camgate")

    result = deploy(recordings, site(cam("front", record=False)), host)

    assert result.changes()[0] == "Stop the retention timer"
    assert result.changes()[-1] == "Reload systemd (retention removed)"
    after = result.host_after()
    assert TIMER not in after.running | after.enabled
    assert [path for path in RETENTION_FILES if after.lookup(path)] == []
    assert after.file(recording) is not None


def test_no_recording_camera_on_a_host_without_the_timer_declares_nothing(passwords):
    result = deploy(recordings, site(cam("front")), SimHost())

    assert result.names() == []


def test_recordings_is_done_once(passwords):
    first, again = converge(recordings, site(cam("front", record=True), cam("back", 21, record=True, retention="30d")))

    assert first.changed
    assert again.changes() == []
