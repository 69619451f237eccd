"""Signed URLs, the manifest catalog and app users: the parts the gateway and the CLI must agree on."""

import base64
import hashlib
import json
import re

import pytest

from camgate.manifest import catalog
from camgate.model import InventoryError, parse_gateway
from camgate.passwords import hash_password
from camgate.render import render_htpasswd, render_manifest_module
from camgate.secrets import SecretError, check_link_secret, check_password_hash
from camgate.signing import link_token, parse_link_secret_conf, signed_path, signed_url

SECRET = "s3cr3t-s3cr3t-s3cr3t-s3cr3t"


def gw(users=(), **fields):
    cameras = [
        {"id": "front", "url": "rtsp://10.0.0.2/a", "name": "Front door"},
        {"id": "yard", "url": "rtsp://10.0.0.3/a", "encrypt": True},
        {"id": "old", "url": "rtsp://10.0.0.4/a", "enabled": False},
    ]
    return parse_gateway(
        "gw1",
        {"domain": "cams.example.com", "acme_email": "a@example.com", "cameras": cameras, "app_users": list(users), **fields},
    )


def test_token_is_nginx_secure_link_md5_in_base64url_without_padding():
    expected = base64.urlsafe_b64encode(hashlib.md5(f"1700000000/front {SECRET}".encode()).digest()).decode()
    assert link_token(SECRET, "front", 1700000000) == expected.rstrip("=")
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", link_token(SECRET, "front", 1700000000))


def test_token_covers_camera_and_expiry_but_not_the_file():
    assert link_token(SECRET, "front", 1) != link_token(SECRET, "yard", 1)
    assert link_token(SECRET, "front", 1) != link_token(SECRET, "front", 2)
    assert signed_path(SECRET, "front", 5, "seg-1.ts").rsplit("/", 1)[0] == signed_path(SECRET, "front", 5).rsplit("/", 1)[0]


def test_signed_url_expires_after_the_ttl():
    g = gw()
    url, expires = signed_url(g, g.cameras[0], SECRET, ttl=600, now=1_700_000_000)
    assert expires == 1_700_000_600
    assert url == f"https://cams.example.com/s/{link_token(SECRET, 'front', expires)}/{expires}/front/index.m3u8"  # the multivariant playlist
    assert signed_url(g, g.cameras[0], SECRET, now=0)[1] == 3600  # url_ttl by default


def test_link_secret_conf_round_trip():
    assert parse_link_secret_conf(f'set $camgate_link_secret "{SECRET}";\n') == SECRET
    assert parse_link_secret_conf('set $camgate_link_secret "short";') is None


def test_manifest_catalog_lists_enabled_cameras_and_each_users_cameras():
    g = gw(users=[{"name": "alice", "password_ref": "secret:a", "cameras": ["front"]},
                  {"name": "admin", "password_ref": "secret:b", "cameras": ["*"]}])  # fmt: skip
    data = catalog(g)
    assert data["cameras"] == {
        "front": {"name": "Front door", "encrypted": False, "record": False, "hls_time": 2, "snapshot": True, "webrtc": False},
        "yard": {"name": "yard", "encrypted": True, "record": False, "hls_time": 2, "snapshot": True, "webrtc": False},
    }
    assert data["users"] == {"alice": ["front"], "admin": ["front", "yard"]}
    assert data["base_url"] == "https://cams.example.com" and data["ttl"] == 3600


def test_manifest_module_embeds_the_catalog_as_json_and_no_secret():
    g = gw(users=[{"name": "alice", "password_ref": "secret:a", "cameras": ["front"]}])
    module = render_manifest_module(g)
    embedded = re.search(r"^var CATALOG = (.*);$", module, re.M).group(1)
    assert json.loads(embedded) == catalog(g)
    assert "secret:a" not in module and "export default" in module


def test_hostile_display_names_stay_inside_the_json_string():
    g = parse_gateway("gw1", {"domain": "c.example.com", "acme_email": "a@example.com",
                              "cameras": [{"id": "x", "url": "rtsp://h/a", "name": "</script>\"; r.return(200) //"}]})  # fmt: skip
    module = render_manifest_module(g)
    embedded = re.search(r"^var CATALOG = (.*);$", module, re.M).group(1)
    assert json.loads(embedded)["cameras"]["x"]["name"] == "</script>\"; r.return(200) //"


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ({"name": "Alice", "password_ref": "secret:a", "cameras": []}, "field 'name'"),
        ({"name": "alice", "password_ref": "hunter2", "cameras": []}, "field 'password_ref'"),
        ({"name": "alice", "password_ref": "secret:a", "cameras": ["nope"]}, "'nope' is not a camera of this gateway"),
        ({"name": "alice", "password_ref": "secret:a"}, "field 'cameras': is required"),
        ({"name": "alice", "password_ref": "secret:a", "cameras": [], "role": "x"}, "field 'role': unknown field"),
    ],
)
def test_bad_app_users_name_the_user_and_field(user, message):
    with pytest.raises(InventoryError) as info:
        gw(users=[user])
    assert "app user" in str(info.value) and message in str(info.value)
    assert "hunter2" not in str(info.value)


def test_duplicate_app_users_are_rejected():
    user = {"name": "alice", "password_ref": "secret:a", "cameras": []}
    with pytest.raises(InventoryError, match="declared twice"):
        gw(users=[user, user])


def test_password_hashes_are_crypt_sha512_and_plaintext_is_refused():
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$6$")
    check_password_hash(hashed, "secret:a")
    with pytest.raises(SecretError, match="does not hold a password hash"):
        check_password_hash("correct horse battery", "secret:a")
    with pytest.raises(ValueError, match="shorter"):
        hash_password("short")


def test_htpasswd_lists_name_and_hash_per_line():
    assert render_htpasswd([("alice", "$6$a$b"), ("bob", "$6$c$d")]) == "alice:$6$a$b\nbob:$6$c$d\n"


def test_link_secret_from_the_store_must_be_url_safe():
    check_link_secret(SECRET)
    with pytest.raises(SecretError):
        check_link_secret('abc"; return 200; #' + "x" * 30)
