"""Access control for the app: signed expiring stream URLs (403 matrix), the authenticated camera
manifest, AES-128 segments with rotating keys, and rotating the signing secret."""

import base64
import json
import subprocess
import sys
import time

import pytest

from tests.players.hls import parse_playlist
from camgate.signing import signed_path
from tests.integration.conftest import INVENTORY, ROOT, probe_stream
from tests.testbed.proc import wait_until

ENCRYPTED = "cam2"
PLAIN = "cam1"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def app_user(state, name: str) -> dict[str, str]:
    return basic(name, state["app_users"][name]["password"])


def current_files(client, signed, camera_id: str) -> dict[str, str]:
    """Names of the newest segment and (for an encrypted camera) key in the live playlist."""
    text = client.wait_for_playlist(signed(camera_id), timeout=30)[0].body.decode()
    files = {"playlist": "stream.m3u8", "segment": parse_playlist(text).segments[-1].uri}
    keys = [line.split('URI="', 1)[1].split('"', 1)[0] for line in text.splitlines() if line.startswith("#EXT-X-KEY")]
    if keys:
        files["key"] = keys[-1]
    return files


def parts(url: str) -> tuple[str, str, str, str, str]:
    """https://host/s/<token>/<expires>/<camera>/<file> -> (base, token, expires, camera, file)."""
    base, path = url.split("/s/", 1)
    token, expires, camera, file = path.split("/")
    return base, token, expires, camera, file


def tamper(url: str) -> str:
    base, token, expires, camera, file = parts(url)
    flipped = ("A" if token[0] != "A" else "B") + token[1:]
    return f"{base}/s/{flipped}/{expires}/{camera}/{file}"


def ts_sync_ratio(body: bytes) -> float:
    """Share of 188-byte packets that start with the MPEG-TS sync byte (1.0 for a clear segment)."""
    starts = range(0, len(body) - 187, 188)
    return sum(body[i] == 0x47 for i in starts) / max(1, len(starts))


@pytest.mark.parametrize("kind", ["playlist", "segment", "key"])
def test_every_stream_file_needs_a_valid_unexpired_signature_for_its_own_camera(gateway, client, signed, link_secret, kind):
    name = current_files(client, signed, ENCRYPTED)[kind]
    good = signed(ENCRYPTED, name)
    assert client.fetch(good).status == 200
    base = gateway.base_url
    forbidden = {
        "unsigned": f"{base}/hls/{ENCRYPTED}/{name}",
        "tampered": tamper(good),
        "expired": base + signed_path(link_secret, ENCRYPTED, int(time.time()) - 5, name),
        "other camera's token": "{}/s/{}/{}/{}/{}".format(*parts(signed(PLAIN))[:3], ENCRYPTED, name),
        "wrong secret": signed(ENCRYPTED, name, secret="x" * 32),
        "malformed": f"{base}/s/short/123/{ENCRYPTED}/{name}",
    }
    for what, url in forbidden.items():
        assert client.fetch(url).status == 403, what


@pytest.mark.every_release
def test_a_real_player_reads_plain_and_encrypted_streams_through_signed_urls(signed, state):
    expected = {"codec_name": "h264", "width": 640, "height": 360}
    assert probe_stream(signed(PLAIN), state) == expected
    assert probe_stream(signed(ENCRYPTED), state) == expected
    assert probe_stream(signed(ENCRYPTED, secret="y" * 32), state) == {}


def test_encrypted_segments_are_ciphertext_and_keys_are_served_only_signed(client, signed, gateway):
    files = current_files(client, signed, ENCRYPTED)
    raw = client.fetch(signed(ENCRYPTED, files["segment"]))
    assert raw.status == 200
    assert ts_sync_ratio(raw.body) < 0.1
    clear = client.fetch(signed(PLAIN, current_files(client, signed, PLAIN)["segment"])).body
    assert clear[4:8] in (b"moof", b"styp")  # a clear fMP4 segment: ISO boxes from the first byte
    key = client.fetch(signed(ENCRYPTED, files["key"]))
    assert key.status == 200 and len(key.body) == 16
    assert key.headers["cache-control"] == "no-store"
    assert client.fetch(f"{gateway.base_url}/hls/{ENCRYPTED}/{files['key']}").status == 403
    assert client.fetch(signed(PLAIN, files["key"])).status == 404  # another camera's signature: not there


@pytest.mark.every_release
def test_keys_rotate_and_playback_continues(host, client, signed, state):
    before = current_files(client, signed, ENCRYPTED)["key"]
    host.run_expect([0], "systemctl start camgate-hls-keys.service")
    wait_until(lambda: current_files(client, signed, ENCRYPTED)["key"] != before, timeout=20, interval=0.5)
    after = current_files(client, signed, ENCRYPTED)["key"]
    assert after != before
    assert client.fetch(signed(ENCRYPTED, before)).status == 200  # still listed segments can be decrypted
    assert probe_stream(signed(ENCRYPTED), state)["codec_name"] == "h264"
    assert host.service("camgate-hls-keys.timer").is_enabled


def test_manifest_needs_app_credentials(gateway, client, state):
    url = f"{gateway.base_url}/api/cameras"
    assert client.fetch(url).status == 401
    assert client.fetch(url, headers=basic("alice", "wrong-password")).status == 401
    assert client.fetch(url, headers=basic("mallory", state["app_users"]["alice"]["password"])).status == 401


def test_manifest_lists_only_the_users_cameras_with_working_signed_urls(gateway, client, state):
    resp = client.fetch(f"{gateway.base_url}/api/cameras", headers=app_user(state, "alice"))
    assert resp.status == 200 and resp.headers["content-type"] == "application/json"
    assert resp.headers["cache-control"] == "no-store"
    body = json.loads(resp.body)
    assert body["user"] == "alice"
    assert [c["id"] for c in body["cameras"]] == ["cam1", "cam2"]
    assert {c["id"]: c["encrypted"] for c in body["cameras"]} == {"cam1": False, "cam2": True}
    now = time.time()
    for camera in body["cameras"]:
        assert camera["name"] == f"Testbed {camera['id']}"
        assert abs(camera["expires"] - (now + gateway.url_ttl)) < 30
        assert client.wait_for_playlist(camera["url"], timeout=30)[0].status == 200
        assert camera["url"].endswith("/index.m3u8") and camera["snapshot"].endswith("/snapshot.jpg")
        assert camera["snapshot"].rsplit("/", 1)[0] == camera["url"].rsplit("/", 1)[0]  # one signature
    bob = json.loads(client.fetch(f"{gateway.base_url}/api/cameras", headers=app_user(state, "bob")).body)
    assert [c["id"] for c in bob["cameras"]] == ["cam3"]


def test_a_user_cannot_get_a_camera_outside_their_list(gateway, client, state):
    api = f"{gateway.base_url}/api/cameras"
    assert client.fetch(f"{api}/cam3", headers=app_user(state, "alice")).status == 403
    assert client.fetch(f"{api}/nosuchcam", headers=app_user(state, "alice")).status == 403
    one = client.fetch(f"{api}/cam3", headers=app_user(state, "bob"))
    assert one.status == 200 and json.loads(one.body)["id"] == "cam3"
    assert client.fetch(f"{api}/cam3").status == 401


def rotate_url_secret(deployer) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "camgate.cli", "rotate-url-secret", INVENTORY, "--yes"],
        cwd=ROOT, env=deployer.env, capture_output=True, text=True, timeout=90,
    )  # fmt: skip


def test_rotating_the_secret_invalidates_old_urls_and_keeps_cameras_running(deployer, client, signed, host, gateway, state):
    old = signed(PLAIN)
    assert client.fetch(old).status == 200
    ffmpeg_pids = host.check_output("pgrep -d, ffmpeg")
    result = rotate_url_secret(deployer)
    assert result.returncode == 0, result.stderr
    assert "new URL signing secret live" in result.stdout
    # nginx's reload replaces its workers gracefully: poll until the old URL is refused
    assert wait_until(lambda: client.fetch(old).status == 403, timeout=15)
    fresh = subprocess.run(
        [sys.executable, "-m", "camgate.cli", "sign", INVENTORY, PLAIN, "--ttl", "5m"],
        cwd=ROOT, env=deployer.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert fresh.returncode == 0, fresh.stderr
    assert client.wait_for_playlist(fresh.stdout.strip(), timeout=10)[0].status == 200
    manifest = json.loads(client.fetch(f"{gateway.base_url}/api/cameras", headers=app_user(state, "alice")).body)
    assert client.fetch(manifest["cameras"][0]["url"]).status == 200
    assert host.check_output("pgrep -d, ffmpeg") == ffmpeg_pids  # cameras untouched


BROKEN_NGINX = "/etc/nginx/conf.d/zz-broken-by-a-rotation-test.conf"


def test_a_rotation_nginx_refuses_fails_loudly_and_the_old_urls_keep_working(deployer, client, signed, host, link_secret):
    old = signed(PLAIN)
    assert client.fetch(old).status == 200
    host.run_expect([0], f"echo 'this is not nginx;' > {BROKEN_NGINX}")
    try:
        result = rotate_url_secret(deployer)
    finally:
        host.run(f"rm -f {BROKEN_NGINX}")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "not live" in result.stderr and "nginx refused its configuration" in result.stderr
    assert "live (" not in result.stdout
    assert host.file("/etc/nginx/camgate/link-secret.conf").content_string.count(link_secret) == 1  # put back
    assert client.fetch(old).status == 200


def test_a_rotation_while_nginx_is_stopped_says_so_and_goes_live_when_it_starts(deployer, client, signed, host, link_secret):
    old = signed(PLAIN)
    host.run_expect([0], "systemctl stop nginx")
    try:
        result = rotate_url_secret(deployer)
    finally:
        host.run_expect([0], "systemctl start nginx")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "nginx is not running" in result.stderr and "not live" in result.stderr
    assert link_secret not in host.file("/etc/nginx/camgate/link-secret.conf").content_string
    assert wait_until(lambda: client.fetch(old).status == 403, timeout=15)  # the new secret took over at start
