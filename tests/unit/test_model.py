"""The camera model accepts the documented examples and rejects bad values with precise messages."""

import pytest

from camgate.model import InventoryError, parse_gateway


def gateway(*cameras, **fields):
    return parse_gateway("gw1", {"domain": "cams.example.com", "acme_email": "ops@example.com", **fields, "cameras": list(cameras)})


def cam(**fields):
    return {"id": "front-door", "url": "rtsp://192.168.10.21:554/Streaming/Channels/101", **fields}


def problem(*cameras, **fields) -> str:
    with pytest.raises(InventoryError) as info:
        gateway(*cameras, **fields)
    return str(info.value)


def test_documented_camera_gets_every_default():
    gw = gateway(cam(username="admin", password_ref="secret:front-door"))
    camera = gw.cameras[0]
    assert (camera.id, camera.name, camera.transport, camera.audio) == ("front-door", "front-door", "tcp", "aac")
    assert (camera.hls_time, camera.hls_list_size, camera.rtsp_timeout, camera.enabled) == (2, 6, 5, True)
    assert camera.unit_name == "camgate-camera-front-door.service"
    assert gw.base_url == "https://cams.example.com"
    assert not camera.encrypt


@pytest.mark.parametrize(
    "url",
    [
        "rtsp://192.168.1.20/stream1",
        "rtsps://cam.local:322/live?channel=1&subtype=0",
        "rtsp://[fd00::20]:554/h264",
        "rtsp://cam-7.site.example:8554/cam%201",
        "rtsp://10.0.0.9:554/cam/realmonitor?channel=1&subtype=0",
    ],
)
def test_vendor_urls_are_accepted(url):
    assert gateway(cam(url=url)).cameras[0].url == url


def test_display_name_may_be_unicode():
    assert gateway(cam(name="Entrée — cour")).cameras[0].name == "Entrée — cour"


def test_domain_defaults_to_the_host_name():
    assert parse_gateway("gw1.example.com", {"acme_email": "a@example.com"}).domain == "gw1.example.com"


@pytest.mark.parametrize(
    ("camera", "field", "fix"),
    [
        (cam(id="Front Door"), "'id'", "lowercase"),
        (cam(id="cam;rm -rf /"), "'id'", "lowercase"),
        (cam(id="../etc"), "'id'", "lowercase"),
        (cam(id="саm1"), "'id'", "ASCII"),  # Cyrillic look-alikes
        (cam(id="a" * 33), "'id'", "1-32"),
        (cam(url="http://10.0.0.2/stream"), "'url'", "rtsp://"),
        (cam(url="rtsp:///stream"), "'url'", "has no host"),
        (cam(url="rtsp://10.0.0.2:99999/x"), "'url'", "1-65535"),
        (cam(url="rtsp://10.0.0.2:0/x"), "'url'", "1 and 65535"),
        (cam(url="rtsp://admin:hunter2@10.0.0.2/x"), "'url'", "password_ref"),
        (cam(url="rtsp://10.0.0.2/a b"), "'url'", "percent-encode"),
        (cam(url="rtsp://10.0.0.2/a\nb"), "'url'", "percent-encode"),
        (cam(url="rtsp://10.0.0.2/$(reboot)"), "'url'", "percent-encode"),
        (cam(name="two\nlines"), "'name'", "single line"),
        (cam(name="x" * 65), "'name'", "at most 64"),
        (cam(password_ref="hunter2", username="admin"), "'password_ref'", "secret:KEY"),
        (cam(password_ref="secret:front"), "'username'", "user name"),
        (cam(transport="http"), "'transport'", "'tcp', 'udp'"),
        (cam(audio="mp3"), "'audio'", "'copy', 'aac', 'none'"),
        (cam(hls_time=0), "'hls_time'", "1 to 10"),
        (cam(hls_list_size=10000), "'hls_list_size'", "3 to 60"),
        (cam(hls_time="2"), "'hls_time'", "whole number"),
        (cam(hls_time=True), "'hls_time'", "whole number"),
        (cam(enabled="yes"), "'enabled'", "true/false"),
        (cam(hls_tme=2), "'hls_tme'", "did you mean 'hls_time'"),
        ({"url": "rtsp://10.0.0.2/x"}, "'id'", "is required"),
        ("front-door", "a mapping", "camera"),
    ],
)
def test_bad_camera_values_name_host_camera_field_and_fix(camera, field, fix):
    message = problem(camera)
    assert message.startswith("host 'gw1'")
    assert f"field {field}" in message or field in message
    assert fix in message
    assert "\n" not in message


def test_problem_names_the_camera():
    assert "camera 'front-door': field 'hls_time'" in problem(cam(hls_time=0))


def test_plaintext_password_is_never_echoed():
    assert "hunter2" not in problem(cam(username="admin", password_ref="hunter2"))
    assert "hunter2" not in problem(cam(url="rtsp://admin:hunter2@10.0.0.2/x"))


def test_duplicate_ids_are_rejected():
    assert "used by two cameras" in problem(cam(), cam())


def test_every_problem_is_reported_on_its_own_line():
    message = problem(cam(hls_time=0), cam(id="back", audio="mp3"))
    assert len(message.splitlines()) == 2


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"domain": "bad domain"}, "'domain'"),
        ({"hls_root": "/var/www/hls"}, "'hls_root'"),
        ({"hls_root": "/run/../etc"}, "'hls_root'"),
        ({"http_port": 70000}, "'http_port'"),
        ({"cors_origin": "evil\"; return 200"}, "'cors_origin'"),
        ({"camerass": []}, "did you mean 'cameras'"),
    ],
)
def test_bad_gateway_values_are_rejected(fields, field):
    assert field in problem(**fields)
