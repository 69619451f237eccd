"""Hostile but valid values survive every file they land in, exactly, and change nothing else.

A camera named `Entrée "A" 100% $HOME \\ ; {}` with a URL path that uses every character the model
allows, and a password full of URL delimiters: each output (camera unit, nginx site, njs catalog,
credentials URL) is parsed back the way its consumer does and compared with the inventory's value
and with the same output for a plain camera.
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote, urlsplit


from camgate.ffmpeg import input_url
from camgate.model import parse_gateway
from camgate.render import render_camera_unit, render_manifest_module, render_nginx_site
from tests.unit.urlsplit_ffmpeg import av_url_split

NAME = 'Entrée "A" 100% $HOME \\ ; {}'
NAME_WITHOUT_BACKSLASH = 'Entrée "A" 100% $HOME ; {} `x` #1'
# Every character the model allows after the host (RFC 3986 unreserved, the sub-delimiters
# vendors use, ':', '@', '/', '?', and percent escapes); quotes, '$', '`', '\\' are refused.
URL = "rtsp://cam-7.site.example:8554/live/a-b.c_d~e!f&g(h)i*j+k,l;m=n:o@p/q%20r%2Fs?channel=1&subtype=0&x=@:/"
USERNAME = "admin user@site:1"
PASSWORD = "p@ss:w/rd%\"' #?&="


def gateway_with(**camera):
    raw = {"id": "yard", "url": URL, "username": USERNAME, "password_ref": "env:YARD", "record": True, "encrypt": True}
    return parse_gateway(
        "gw1.example.com",
        {"domain": "cams.example.com", "acme_email": "ops@example.com", "cameras": [{**raw, **camera}]},
    )


HOSTILE = gateway_with(name=NAME)
PLAIN = gateway_with(name="Plain")


def test_the_hostile_values_are_valid():
    camera = HOSTILE.cameras[0]
    assert (camera.name, camera.url, camera.username) == (NAME, URL, USERNAME)


# --- camera unit ----------------------------------------------------------------------------------


def systemd_description(unit: str) -> str:
    """Description= as systemd reads it: the value after '=', stripped, specifiers expanded ('%%' is
    '%'). systemd does no backslash unescaping in Description= (only a trailing one continues the line)."""
    line = next(line for line in unit.splitlines() if line.startswith("Description="))
    assert not line.endswith("\\")
    value = line.removeprefix("Description=").strip()
    assert "%" not in value.replace("%%", ""), "an unescaped specifier"
    return value.replace("%%", "%")


def description_of(name: str) -> str:
    return f"camgate camera yard: {name} (RTSP to HLS)"


def test_unit_changes_only_in_its_description():
    hostile = render_camera_unit(HOSTILE, HOSTILE.cameras[0], 5).splitlines()
    plain = render_camera_unit(PLAIN, PLAIN.cameras[0], 5).splitlines()
    assert len(hostile) == len(plain)
    changed = [(a, b) for a, b in zip(hostile, plain) if a != b]
    assert len(changed) == 1 and changed[0][0].startswith("Description=")


def test_unit_description_survives_a_name_without_backslash():
    gw = gateway_with(name=NAME_WITHOUT_BACKSLASH)
    assert systemd_description(render_camera_unit(gw, gw.cameras[0], 5)) == description_of(NAME_WITHOUT_BACKSLASH)


def test_unit_description_survives_the_hostile_name():
    assert systemd_description(render_camera_unit(HOSTILE, HOSTILE.cameras[0], 5)) == description_of(NAME)


# --- nginx site and njs catalog ---------------------------------------------------------------------


def test_nginx_site_does_not_change_at_all():
    for version in ((1, 18, 0), (1, 22, 1), (1, 25, 3)):
        site = render_nginx_site(HOSTILE, version)
        assert site == render_nginx_site(PLAIN, version)
        assert "Entrée" not in site and "$HOME" not in site


def catalog_line(module: str) -> tuple[int, str]:
    (found,) = [(i, line) for i, line in enumerate(module.splitlines()) if line.startswith("var CATALOG = ")]
    return found


def test_njs_catalog_round_trips_the_name_and_nothing_else_changes():
    hostile, plain = render_manifest_module(HOSTILE), render_manifest_module(PLAIN)
    index, line = catalog_line(hostile)
    assert catalog_line(plain)[0] == index
    catalog = json.loads(line.removeprefix("var CATALOG = ").removesuffix(";"))
    assert catalog["cameras"]["yard"]["name"] == NAME
    expected = json.loads(catalog_line(plain)[1].removeprefix("var CATALOG = ").removesuffix(";"))
    expected["cameras"]["yard"]["name"] = NAME
    assert catalog == expected
    others = [x for i, x in enumerate(hostile.splitlines()) if i != index]
    assert others == [x for i, x in enumerate(plain.splitlines()) if i != index]
    assert line.isascii()  # JSON escapes for the rest (é, and U+2028/2029 would be too)


# --- credentials URL --------------------------------------------------------------------------------


def test_credentials_url_carries_user_and_password_exactly():
    camera = HOSTILE.cameras[0]
    written = input_url(camera, PASSWORD) + "\n"  # what roles/cameras.py puts in the credentials file
    url = written.rstrip("\n")  # what the launcher's $(<file) reads back
    parts, original = urlsplit(url), urlsplit(URL)
    assert (parts.scheme, parts.hostname, parts.port, parts.path, parts.query) == (
        original.scheme, original.hostname, original.port, original.path, original.query,
    )  # fmt: skip
    assert unquote(parts.username) == USERNAME and unquote(parts.password) == PASSWORD
    assert url.replace(parts.netloc, original.netloc, 1) == URL  # nothing else changed
    # ffmpeg splits it the same way.
    _scheme, userinfo, host, port, path = av_url_split(url)
    assert (host, port, path) == ("cam-7.site.example", 8554, URL.split("8554", 1)[1])
    assert [unquote(part) for part in userinfo.split(":", 1)] == [USERNAME, PASSWORD]
    assert not re.search(r"[\s\"'$`\\]", url)  # nothing a shell or a quoted context would read differently
