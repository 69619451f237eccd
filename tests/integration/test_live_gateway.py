"""After one deploy to a bare host: services up, credentials locked away, every camera live over HTTP."""

import gzip
import time
from email.utils import parsedate_to_datetime

import pytest

from tests.players.hls import PLAYLIST_TYPE, parse_playlist, probe_video, segment_url
from camgate.ffmpeg import SNAPSHOT_SECONDS
from tests.integration.conftest import probe_stream
from tests.testbed.proc import wait_until

pytestmark = pytest.mark.every_release  # part of the subset every tested release runs (conftest.EVERY_RELEASE)

CAMERAS = ["cam1", "cam2", "cam3"]


def test_first_deploy_succeeds_on_a_bare_host(first_deploy):
    assert first_deploy.returncode == 0


def test_nginx_is_running_enabled_and_listening_on_80_and_443(host):
    nginx = host.service("nginx")
    assert nginx.is_running and nginx.is_enabled
    assert host.socket("tcp://0.0.0.0:80").is_listening
    assert host.socket("tcp://0.0.0.0:443").is_listening


@pytest.mark.parametrize("camera_id", CAMERAS)
def test_every_camera_unit_is_running_and_enabled(host, camera_id):
    unit = host.service(f"camgate-camera-{camera_id}")
    assert unit.is_running and unit.is_enabled


def test_ffmpeg_runs_as_the_camgate_user(host):
    users = host.check_output("ps -o user= -C ffmpeg | sort -u")
    assert users.split() == ["camgate"]


def test_credentials_are_root_only_and_never_in_the_unit(host, state):
    creds_dir = host.file("/etc/camgate/credentials")
    assert creds_dir.mode == 0o700 and creds_dir.user == "root"
    password = next(c["password"] for c in state["cameras"] if c["id"] == "cam3")
    creds = host.file("/etc/camgate/credentials/cam3.url")
    assert creds.mode == 0o600 and creds.user == "root" and creds.group == "root"
    assert "%40" in creds.content_string  # the '@' in the password is percent-encoded
    for camera_id in CAMERAS:
        unit_text = host.file(f"/etc/systemd/system/camgate-camera-{camera_id}.service").content_string
        assert password not in unit_text and "viewer" not in unit_text
    assert host.run("runuser -u camgate -- cat /etc/camgate/credentials/cam3.url").rc != 0


def test_hls_lives_in_tmpfs_readable_but_not_writable_by_nginx(host, gateway):
    hls = host.file("/run/camgate/hls/cam1")
    assert hls.user == "camgate" and hls.group == "camgate" and hls.mode == 0o750
    assert host.run("findmnt -n -o FSTYPE --target /run/camgate/hls").stdout.strip() == "tmpfs"
    assert host.run("runuser -u www-data -- cat /run/camgate/hls/cam1/stream.m3u8").rc == 0
    assert host.run("runuser -u www-data -- touch /run/camgate/hls/cam1/intruder").rc != 0


@pytest.mark.parametrize("camera_id", CAMERAS)
def test_signed_playlist_is_live_over_verified_https_and_plays(gateway, client, signed, state, camera_id, tmp_path):
    camera = gateway.camera(camera_id)
    url = signed(camera_id)
    assert url.startswith("https://")
    resp, playlist = client.wait_for_playlist(url, timeout=30)
    assert resp.headers["content-type"] == PLAYLIST_TYPE
    assert resp.body.startswith(b"#EXTM3U")
    assert resp.headers["cache-control"] == "no-cache"
    assert resp.headers["access-control-allow-origin"] == "*"

    advanced = client.wait_for_sequence_advance(url, playlist.media_sequence, timeout=4 * camera.hls_time + 10)
    assert advanced > playlist.media_sequence

    playlist = parse_playlist(client.fetch(url).body.decode())
    segment = client.fetch(segment_url(url, playlist.segments[-1]))
    expected = {"codec_name": "h264", "width": 640, "height": 360}
    if camera.encrypt:  # MPEG-TS: ffmpeg cannot encrypt fMP4
        assert playlist.map_uri is None
        assert segment.status == 200 and segment.headers["content-type"] == "video/mp2t"
        path = tmp_path / "segment.ts"
        path.write_bytes(segment.body)
        assert probe_video(str(path)) != expected  # ciphertext on its own
    else:  # fMP4: the init section (EXT-X-MAP) plus a media segment make a playable file
        assert playlist.map_uri == "init.mp4"
        assert segment.status == 200 and segment.headers["content-type"] == "video/mp4"
        init = client.fetch(segment_url(url, playlist.map_uri))
        assert init.status == 200 and init.body[4:8] == b"ftyp"
        path = tmp_path / "segment.mp4"
        path.write_bytes(init.body + segment.body)
        assert probe_video(str(path)) == expected
    assert probe_stream(url, state) == expected  # a real player: playlist, segments, keys


# What each testbed camera sends, as the multivariant playlist must describe it (tests/testbed/inventory.py).
EXPECTED_AUDIO = {"cam1": "mp4a.40.2", "cam2": "mp4a.40.2", "cam3": None}  # copied AAC, transcoded AAC, none


@pytest.mark.parametrize("camera_id", CAMERAS)
def test_the_apps_url_is_a_multivariant_playlist_that_describes_the_stream(gateway, client, signed, camera_id):
    url = signed(camera_id, file="index.m3u8")
    resp, playlist = client.wait_for_playlist(url, timeout=60)
    assert resp.headers["content-type"] == PLAYLIST_TYPE and resp.headers["cache-control"] == "no-cache"
    ((attributes, uri),) = playlist.variants
    assert uri == "stream.m3u8"
    # RFC 8216 4.3.4.2 and Apple's authoring spec 9.1-9.15: all of these, read from the media itself.
    codecs = attributes["CODECS"].split(",")
    assert codecs[0].startswith("avc1.") and len(codecs[0]) == len("avc1.64001f")
    assert codecs[1:] == ([EXPECTED_AUDIO[camera_id]] if EXPECTED_AUDIO[camera_id] else [])
    assert attributes["RESOLUTION"] == "640x360" and attributes["FRAME-RATE"] == "25.000"
    assert int(attributes["BANDWIDTH"]) >= int(attributes["AVERAGE-BANDWIDTH"]) > 100_000
    media = client.fetch(segment_url(url, uri))
    assert media.status == 200 and parse_playlist(media.body.decode()).segments


@pytest.mark.parametrize("camera_id", CAMERAS)
def test_every_camera_has_a_fresh_snapshot_under_its_signed_path(gateway, client, signed, camera_id, tmp_path):
    url = signed(camera_id, file="snapshot.jpg")
    assert wait_until(lambda: client.fetch(url).status == 200, timeout=30)
    resp = client.fetch(url)
    assert resp.headers["content-type"] == "image/jpeg" and resp.headers["cache-control"] == "no-cache"
    assert resp.body[:3] == b"\xff\xd8\xff"  # a JPEG
    path = tmp_path / "snapshot.jpg"
    path.write_bytes(resp.body)
    assert probe_video(str(path)) == {"codec_name": "mjpeg", "width": 640, "height": 360}
    # Refreshed every 5 s from keyframes (1 s apart here): never older than that plus a keyframe.
    age = time.time() - parsedate_to_datetime(resp.headers["last-modified"]).timestamp()
    assert age <= SNAPSHOT_SECONDS + 3, age
    # The app revalidates cheaply: same picture, 304 without a body.
    again = client.fetch(url, headers={"If-None-Match": resp.headers["etag"]})
    assert again.status in (200, 304) and (again.status == 200 or not again.body)
    assert client.fetch(f"{gateway.base_url}/hls/{camera_id}/snapshot.jpg").status == 403
    assert client.fetch(url.replace(f"/{camera_id}/", "/cam9/")).status == 403  # another camera's path


def test_a_camera_that_is_not_up_gets_503_not_a_playlist(host, client, signed):
    url = signed("cam3", file="index.m3u8")
    client.wait_for_playlist(url, timeout=60)
    host.run_expect([0], "systemctl stop camgate-camera-cam3 && systemctl start camgate-health.service")
    try:
        assert wait_until(lambda: client.fetch(url).status == 503, timeout=30)
        assert client.fetch(url).headers.get("retry-after") == "2"
    finally:
        host.run_expect([0], "systemctl start camgate-camera-cam3")
    client.wait_for_playlist(signed("cam3"), timeout=30)


def test_playlists_are_gzipped_for_clients_that_accept_it(client, signed):
    url = signed("cam1")
    client.wait_for_playlist(url, timeout=30)
    zipped = client.fetch(url, headers={"Accept-Encoding": "gzip"})
    assert zipped.status == 200 and zipped.headers.get("content-encoding") == "gzip"
    assert gzip.decompress(zipped.body).startswith(b"#EXTM3U")
    assert "content-encoding" not in client.fetch(url).headers  # a client that did not ask gets text


def test_nothing_but_signed_streams_and_the_api_is_served(gateway, client, signed):
    base = gateway.base_url
    fetch = client.fetch
    assert fetch(f"{base}/").status == 404
    assert fetch(f"{base}/hls/").status == 403
    assert fetch(f"{base}/hls/cam1/stream.m3u8").status == 403
    assert fetch(signed("cam1").rsplit("/", 1)[0] + "/").status == 403  # no listing
    assert fetch(signed("nosuchcam")).status == 404
    prefix = signed("cam1").rsplit("/", 1)[0][len(base):]
    for traversal in (f"{prefix}/../../../etc/passwd", f"{prefix}/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
                      f"{prefix}/..%2f..%2f..%2fetc%2fpasswd", "/s/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                      f"{prefix}/keyinfo.txt", f"{prefix}/.stream.m3u8.tmp"):
        resp = fetch(base + traversal)
        assert resp.status in (400, 403, 404) and b"root:" not in resp.body, traversal
    resp = fetch(f"{base}/nosuch")
    assert "nginx/" not in resp.headers.get("server", "") and b"nginx/" not in resp.body
