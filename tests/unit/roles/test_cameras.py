"""roles.cameras on a simulated host: what a deploy uploads, starts, restarts and removes per camera."""

import logging

import pytest

from camgate.paths import UPLOAD_DIR
from roles.cameras import cameras

from .harness import SimHost, converge, deploy
from .sites import cam, site

UNITS = "/etc/systemd/system"
CREDENTIALS = "/etc/camgate/credentials"


def unit_path(camera_id: str) -> str:
    return f"{UNITS}/camgate-camera-{camera_id}.service"


def settled(*cams: dict) -> SimHost:
    """A host the cameras role has already deployed these cameras to (units running and enabled)."""
    first, again = converge(cameras, site(*cams))
    assert first.changed and not again.changed
    return again.host_after()


@pytest.fixture(autouse=True)
def _passwords(passwords):
    return passwords


def test_a_new_camera_gets_its_credentials_and_unit_uploaded_and_started():
    result = deploy(cameras, site(cam("front")))

    assert result.uploaded(f"{CREDENTIALS}/front.url") == "rtsp://admin:pw-front@192.168.1.20:554/stream1\n"
    unit = result.uploaded(unit_path("front"))
    assert f"LoadCredential=rtsp-url:{CREDENTIALS}/front.url" in unit
    assert "pw-front" not in unit
    assert result.op("Run camgate-camera-front.service").commands == [
        "systemctl start camgate-camera-front.service",
        "systemctl enable camgate-camera-front.service",
    ]
    changes = result.changes()
    assert changes.index("Credentials of camera front") < changes.index("Reload systemd units")
    assert changes.index("File of camera front") < changes.index("Reload systemd units")
    assert changes.index("Reload systemd units") < changes.index("Run camgate-camera-front.service")

    after = result.host_after()
    credentials = after.file(f"{CREDENTIALS}/front.url")
    assert (oct(credentials.mode), credentials.user, credentials.group) == ("0o600", "root", "root")
    assert "camgate-camera-front.service" in after.running & after.enabled


def test_a_camera_removed_from_the_inventory_is_stopped_disabled_and_deleted_with_its_credentials():
    host = settled(cam("front"), cam("back", 21))

    result = deploy(cameras, site(cam("front")), host)

    assert result.op("Stop removed camgate-camera-back.service").commands == [
        "systemctl stop camgate-camera-back.service",
        "systemctl disable camgate-camera-back.service",
    ]
    assert result.op("Delete camgate-camera-back.service").commands == [f"rm -f {unit_path('back')}"]
    assert result.op("Delete credentials of back").commands == [f"rm -f {CREDENTIALS}/back.url"]
    assert result.changes()[-1] == "Reload systemd units"
    assert [name for name in result.changes() if "front" in name] == []

    after = result.host_after()
    assert after.lookup(unit_path("back")) is None
    assert after.lookup(f"{CREDENTIALS}/back.url") is None
    assert "camgate-camera-back.service" not in after.running | after.enabled
    assert "camgate-camera-front.service" in after.running & after.enabled


def test_a_camera_whose_files_and_unit_are_as_deployed_changes_nothing():
    first, again = converge(cameras, site(cam("front"), cam("back", 21)))

    assert first.changed
    assert again.changes() == []
    assert again.commands() == []
    assert again.uploads == {}
    assert not [name for name in again.names() if name.startswith(("Restart", "Run"))]


def test_a_changed_password_re_uploads_the_credentials_and_restarts_only_that_camera(passwords):
    host = settled(cam("front"), cam("back", 21))
    passwords(front="a-new-password")

    result = deploy(cameras, site(cam("front"), cam("back", 21)), host)

    assert result.uploads == {f"{CREDENTIALS}/front.url": "rtsp://admin:a-new-password@192.168.1.20:554/stream1\n"}
    assert result.changes() == ["Credentials of camera front", "Restart camgate-camera-front.service (changed)"]
    assert result.op("Restart camgate-camera-front.service (changed)").commands == [
        "systemctl restart camgate-camera-front.service"
    ]
    assert not [command for command in result.commands() if "camgate-camera-back" in command]


def test_a_deployed_camera_that_is_not_running_is_started_without_uploading_anything():
    host = settled(cam("front"))
    host.running.discard("camgate-camera-front.service")

    result = deploy(cameras, site(cam("front")), host)

    assert result.changes() == ["Run camgate-camera-front.service"]
    assert result.uploads == {}


@pytest.mark.parametrize("scenario", ["new camera", "changed password", "removed camera"])
def test_credentials_never_appear_in_an_operation_name_a_command_or_pyinfras_log(passwords, caplog, scenario):
    secret = "S3cr3t-Pa55"
    front, back = cam("front"), cam("back", 21)
    if scenario == "new camera":
        passwords(front=secret)
        host, deployed = SimHost(), (front,)
    elif scenario == "changed password":
        host, deployed = settled(front, back), (front, back)
        passwords(front=secret)
    else:
        passwords(front=secret, back=secret)
        host, deployed = settled(front, back), (front,)

    with caplog.at_level(logging.DEBUG, logger="pyinfra"):
        result = deploy(cameras, site(*deployed), host)

    assert result.changed
    assert not [op.name for op in result.ops if secret in op.name or secret in op.deploy]
    assert not [command for command in result.commands() if secret in command]
    assert secret not in caplog.text


def test_a_running_camera_that_was_disabled_by_hand_is_restarted_when_its_password_changed(passwords):
    host = settled(cam("front"))
    host.enabled.discard("camgate-camera-front.service")  # `systemctl disable`, still running
    passwords(front="a-new-password")

    result = deploy(cameras, site(cam("front")), host)

    assert "systemctl enable camgate-camera-front.service" in result.commands()
    assert "systemctl restart camgate-camera-front.service" in result.commands()


SUB = "rtsp://192.168.1.20:554/stream2"


def test_a_camera_with_a_sub_stream_gets_a_second_unit_with_its_own_credentials_and_no_recording():
    result = deploy(cameras, site(cam("front", sub_url=SUB, record=True)))

    assert result.uploaded(f"{CREDENTIALS}/front.sub.url") == "rtsp://admin:pw-front@192.168.1.20:554/stream2\n"
    sub_unit = result.uploaded(unit_path("front.sub"))
    assert f"LoadCredential=rtsp-url:{CREDENTIALS}/front.sub.url" in sub_unit
    assert "RuntimeDirectory=camgate/hls/front.sub" in sub_unit
    assert "segment_format" not in sub_unit and "snapshot.jpg" not in sub_unit  # the main stream records and snaps
    assert "segment_format" in result.uploaded(unit_path("front")) and "snapshot.jpg" in result.uploaded(unit_path("front"))
    assert {"Run camgate-camera-front.service", "Run camgate-camera-front.sub.service"} <= set(result.changes())


def test_dropping_the_sub_url_stops_and_deletes_only_the_sub_stream():
    host = settled(cam("front", sub_url=SUB))

    result = deploy(cameras, site(cam("front")), host)

    assert "Stop removed camgate-camera-front.sub.service" in result.changes()
    assert "Stop removed camgate-camera-front.service" not in result.changes()
    after = result.host_after()
    assert after.lookup(f"{CREDENTIALS}/front.sub.url") is None and after.lookup(unit_path("front.sub")) is None
    assert after.lookup(unit_path("front")) is not None


def test_many_new_cameras_travel_in_one_archive_and_start_in_one_command(passwords):
    ids = [f"cam{n}" for n in range(1, 9)]  # 8 units, 18 files (with the launcher and key script): BATCH_FROM
    passwords(**{cid: f"pw-{cid}" for cid in ids})
    cameras_ = [cam(cid, 30 + n) for n, cid in enumerate(ids)]
    first, again = converge(cameras, site(*cameras_))

    changes = first.changes()
    assert "Files of 8 camera stream(s) (18 files, one archive)" in changes
    assert not [name for name in changes if name.startswith(("Credentials of camera", "File of camera"))]
    (archive,) = [path for path in first.uploads if path.startswith(UPLOAD_DIR)]
    assert first.op("Run 8 camera units").commands == [
        "systemctl enable --now --no-block " + " ".join(f"camgate-camera-{cid}.service" for cid in ids)
    ]
    after = first.host_after()
    credentials = after.file(f"{CREDENTIALS}/cam3.url")
    assert credentials.content == "rtsp://admin:pw-cam3@192.168.1.32:554/stream1\n"
    assert (oct(credentials.mode), credentials.user, credentials.group) == ("0o600", "root", "root")
    assert after.lookup(archive) is None  # the archive is deleted once unpacked
    assert {f"camgate-camera-{cid}.service" for cid in ids} <= after.running & after.enabled
    # No password in an operation name or command (the archive carries them).
    assert not [c for c in first.commands() if "pw-cam" in c] and not [n for n in first.names() if "pw-cam" in n]
    assert again.changes() == []

    # One camera's password changes: an operation of its own again, named after it.
    passwords(cam3="a-new-password")
    changed = deploy(cameras, site(*cameras_), after)
    assert changed.changes() == ["Credentials of camera cam3", "Restart camgate-camera-cam3.service (changed)"]
