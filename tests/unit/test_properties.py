"""Property tests: whatever the model accepts is safe where it lands, and what is unsafe is refused.

Generated ids, names and URLs (mostly hostile) go through the real model (parse_gateway); every
accepted value is then rendered into the camera unit, the nginx site and the njs module, and each
output is checked for structure (no injected directive, balanced braces, valid JSON).
"""

from __future__ import annotations

import ipaddress
import json
import re
import string
import unicodedata
from dataclasses import replace
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from camgate.ffmpeg import camera_args, input_url
from camgate.model import Gateway, InventoryError, parse_gateway
from camgate.render import (
    TEMPLATES_DIR,
    render_camera_unit,
    render_manifest_module,
    render_nginx_site,
)
from tests.unit.urlsplit_ffmpeg import av_url_split

HOST = "gw1.example.com"
SLOW = [HealthCheck.too_slow, HealthCheck.filter_too_much]
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=SLOW)
RENDER_SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=SLOW)

# Characters that break out of a file format or a shell, and look-alikes.
HOSTILE = list(";$`|&<>(){}[]'\"\\/.%#*?!~ \t\n\r\x00\x0b\x0c\x1b\x7f\x85\u2028\u2029\u202e\u200b\ufeff\u0430\u043e")
SLUG = r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?"


def gateway(*cameras: dict, **fields) -> Gateway:
    return parse_gateway(
        HOST, {"domain": "cams.example.com", "acme_email": "ops@example.com", **fields, "cameras": list(cameras)}
    )


def cam(**fields) -> dict:
    return {"id": "front", "url": "rtsp://192.168.10.21:554/stream1", **fields}


def accepted(*cameras: dict, **fields) -> Gateway | None:
    try:
        return gateway(*cameras, **fields)
    except InventoryError:
        return None


def rejected_field(*cameras: dict, **fields) -> str:
    with pytest.raises(InventoryError) as info:
        gateway(*cameras, **fields)
    return str(info.value)


# --- strategies -----------------------------------------------------------------------------------

ids = st.one_of(
    st.from_regex(SLUG, fullmatch=True),
    st.text(alphabet=string.ascii_letters + string.digits + "-_" + "".join(HOSTILE), max_size=40),
    st.from_regex(SLUG, fullmatch=True).map(lambda s: s + "\n"),
)
names = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.sampled_from(HOSTILE + list("Entrée AZaz09")), max_size=70),
    st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Zs", "Co", "Cs"]), min_size=1, max_size=5),
)
GOOD_HOSTS = [
    "192.168.10.21",
    "10.0.0.2",
    "[fd00::21]",
    "[::ffff:10.0.0.2]",
    "cam.local",
    "cam-7.site.example",
    "CAM.Local",
]
BAD_HOSTS = [
    "", "192.168.10.300", "127.1", "0x7f.1", "[fd00::21", "fd00::21]", "[fe80::1%25eth0]", "[v1.x]", "a_b.local",
    "[::1]x", "cam.local.", "-cam.local", "кам.example", "cam.local$(reboot)", "cam local", "cam\nlocal",
]  # fmt: skip
url_hosts = st.one_of(
    st.sampled_from(GOOD_HOSTS),
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z]{2,6}){0,2}", fullmatch=True),
    st.sampled_from(BAD_HOSTS),
    st.text(alphabet=string.ascii_lowercase + string.digits + ".-[]:@%" + "".join(HOSTILE), max_size=20),
)
GOOD_PORTS = ["", ":554", ":8554", ":1", ":65535"]
BAD_PORTS = [":0", ":70000", ":rtsp", ":", ":0554", ": 554", ":+554"]
url_ports = st.one_of(st.sampled_from(GOOD_PORTS), st.sampled_from(BAD_PORTS))
# Path and query: every character the model allows, percent escapes, and (in dirty tails) the rest.
ALLOWED_TAIL = string.ascii_letters + string.digits + "-._~!&()*+,;=:@/?"
clean_tails = st.lists(
    st.one_of(st.sampled_from(list(ALLOWED_TAIL)), st.from_regex(r"%[0-9A-Fa-f]{2}", fullmatch=True)), max_size=30
).map("".join)
dirty_tails = st.lists(
    st.one_of(st.sampled_from(list(ALLOWED_TAIL)), st.sampled_from(HOSTILE + ["%", "%g1", "#", "'", "%%"])), max_size=30
).map("".join)
clean_urls = st.builds(
    lambda scheme, host, port, tail: f"{scheme}{host}{port}{tail}",
    st.sampled_from(["rtsp://", "rtsps://"]),
    st.sampled_from(GOOD_HOSTS),
    st.sampled_from(GOOD_PORTS),
    st.one_of(st.just(""), clean_tails.map(lambda t: "/" + t)),
)


def _with_defect(scheme: str, host: str, port: str, tail: str, defect: tuple[str, str]) -> str:
    kind, value = defect
    if kind == "scheme":
        scheme = value
    elif kind == "userinfo":
        host = value + host
    elif kind == "host":
        host = value
    elif kind == "port":
        port = value
    else:
        tail = tail[: len(tail) // 2] + value + tail[len(tail) // 2 :]
    return f"{scheme}{host}{port}{tail}"


# A clean URL with exactly one thing wrong with it: each defect gets a fair chance on its own.
one_defect_urls = st.builds(
    _with_defect,
    st.sampled_from(["rtsp://", "rtsps://"]),
    st.sampled_from(GOOD_HOSTS),
    st.sampled_from(GOOD_PORTS),
    st.one_of(st.just(""), clean_tails.map(lambda t: "/" + t)),
    st.one_of(
        st.tuples(
            st.just("scheme"), st.sampled_from(["RTSP://", "http://", "rtsp:", "rtsp:/", "", "file://", "rtsp:///"])
        ),
        st.tuples(st.just("userinfo"), st.sampled_from(["admin:hunter2@", "admin@", "@", ":@"])),
        st.tuples(st.just("host"), st.sampled_from(BAD_HOSTS)),
        st.tuples(st.just("port"), st.sampled_from(BAD_PORTS)),
        st.tuples(st.just("tail"), st.sampled_from(list("'\"$`\\ %#\n\x00é{}<>|^") + ["%g1", "%%", "#frag"])),
    ),
)
urls = st.one_of(
    clean_urls,
    one_defect_urls,
    one_defect_urls,
    st.builds(
        lambda scheme, userinfo, host, port, tail: f"{scheme}{userinfo}{host}{port}{tail}",
        st.sampled_from(["rtsp://", "rtsps://", "RTSP://", "http://", "rtsp:", "rtsp:/", "", "file://"]),
        st.sampled_from(["", "", "", "admin:hunter2@", "admin@", "@", ":@"]),
        url_hosts,
        url_ports,
        st.one_of(
            st.just(""),
            st.just("/"),
            clean_tails.map(lambda t: "/" + t),
            dirty_tails.map(lambda t: "/" + t),
            dirty_tails,
        ),
    ),
    st.text(max_size=60),
)
passwords = st.text(max_size=30)
usernames = st.text(alphabet=string.printable.strip() + " é", min_size=1, max_size=20)

# A valid camera around the value under test, with its other settings spread over their ranges.
camera_settings = st.fixed_dictionaries(
    {},
    optional={
        "transport": st.sampled_from(["tcp", "udp"]),
        "audio": st.sampled_from(["copy", "aac", "none"]),
        "hls_time": st.integers(1, 10),
        "hls_list_size": st.integers(3, 60),
        "rtsp_timeout": st.integers(2, 60),
        "record": st.booleans(),
        "retention": st.sampled_from(["30m", "12h", "7d", "3650d", "1m"]),
        "record_segment": st.integers(10, 3600),
        "encrypt": st.booleans(),
    },
)
hls_roots = st.one_of(
    st.just("/run/camgate/hls"), st.from_regex(r"/run/[a-z0-9_.-]{1,12}/[a-z0-9_.-]{1,12}", fullmatch=True)
)
recordings_roots = st.one_of(
    st.just("/var/lib/camgate/recordings"), st.from_regex(r"/srv/[a-z0-9_-]{1,12}", fullmatch=True)
)


# --- the model: accepted means safe, unsafe means rejected ----------------------------------------


@SETTINGS
@given(ids)
@example("front\n")  # '$' in a regex matches before a trailing newline
@example("fr\u043ent")
@example("../etc")
def test_accepted_ids_are_slugs(value):
    gw = accepted(cam(id=value))
    event("accepted" if gw else "rejected")
    slug = re.fullmatch(r"[a-z0-9-]+", value) is not None and ".." not in value and 1 <= len(value) <= 32
    if gw is not None:
        assert gw.cameras[0].id == value
        assert slug and not value.startswith("-") and not value.endswith("-")
    if not re.fullmatch(r"[a-z0-9-]+", value):
        assert gw is None  # anything outside the slug rule is rejected
        assert "field 'id'" in rejected_field(cam(id=value))


@SETTINGS
@given(names)
@example("Front\nExecStartPre=/bin/sh")
@example("Front \ud800")  # a lone surrogate: not writable as UTF-8
@example("\u202eroodtnorF")  # right-to-left override
def test_accepted_names_have_no_control_characters(value):
    gw = accepted(cam(name=value))
    event("accepted" if gw else "rejected")
    has_control = any(unicodedata.category(ch) in ("Cc", "Cs") or ch in "\u2028\u2029" for ch in value)
    if gw is not None:
        name = gw.cameras[0].name
        assert name == value and not has_control and value.strip() and len(value) <= 64
        name.encode("utf-8")  # writable to the unit file and the njs module
    if has_control or any(0x202A <= ord(ch) <= 0x202E or 0x2066 <= ord(ch) <= 0x2069 for ch in value):
        assert gw is None
        assert "camera 'front': field 'name'" in rejected_field(cam(name=value))


@SETTINGS
@given(urls, usernames, passwords)
@example("rtsp://[::1]x:554/stream", "admin", "pw")  # urllib: port 554; ffmpeg: default port
@example("rtsp://10.0.0.2/it's", "admin", "pw")
@example("rtsp://192.168.1.300/stream", "admin", "pw")
@example("rtsp://127.1/stream", "admin", "pw")
def test_accepted_urls_mean_one_host_to_urllib_and_to_ffmpeg(url, username, password):
    gw = accepted(cam(url=url))
    event("accepted" if gw else "rejected")
    if gw is None:
        return
    parts = urlsplit(url)
    assert parts.scheme in ("rtsp", "rtsps")
    assert "@" not in parts.netloc and parts.username is None and parts.password is None
    assert not any(ch.isspace() or ch in "\"'$`\\" or unicodedata.category(ch) == "Cc" for ch in url)
    assert parts.hostname and not parts.fragment
    if re.fullmatch(r"[0-9a-fx.]+", parts.hostname) and parts.hostname.rsplit(".", 1)[-1].isdigit():
        ipaddress.ip_address(parts.hostname)  # looks numeric: must be a real IPv4 address, not '1.2.3.300' or '127.1'
    port = parts.port
    assert port is None or 1 <= port <= 65535
    # ffmpeg reads the same host and port.
    _scheme, userinfo, host, ff_port, _path = av_url_split(url)
    assert userinfo == "" and host.lower() == parts.hostname
    assert ff_port == (port if port is not None else -1)
    # Re-split after the credentials went in (the credentials file): same host, port and path, and
    # the credentials come back exactly.
    camera = replace(gw.cameras[0], username=username)
    with_credentials = input_url(camera, password)
    again = urlsplit(with_credentials)
    assert (again.scheme, again.hostname, again.port, again.path, again.query) == (
        parts.scheme, parts.hostname, port, parts.path, parts.query,
    )  # fmt: skip
    assert unquote(again.username) == username and unquote(again.password) == password
    _s, ff_userinfo, ff_host, ff_port2, ff_path = av_url_split(with_credentials)
    assert (ff_host, ff_port2) == (host, ff_port) and ff_path == url[len(f"{parts.scheme}://{parts.netloc}") :]
    assert [unquote(x) for x in ff_userinfo.split(":", 1)] == [username, password]


@SETTINGS
@given(st.one_of(st.from_regex(r"https?://[a-z0-9.-]{1,20}(:[0-9]{1,6})?", fullmatch=True), st.text(max_size=40)))
@example("https://app.example.com\n")  # a line break in a response header
@example("https://app.example.com:99999")
def test_accepted_cors_origins_are_one_header_value(value):
    gw = accepted(cors_origin=value)
    event("accepted" if gw else "rejected")
    if gw is not None:
        assert value == "*" or re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", value)
        port = urlsplit(value).port if value != "*" else None
        assert port is None or 1 <= port <= 65535


# --- rendered files -------------------------------------------------------------------------------

UNIT_TEMPLATE = TEMPLATES_DIR / "systemd" / "camgate-camera.service.j2"
UNIT_KEYS = set(re.findall(r"^([A-Z][A-Za-z]+)=", UNIT_TEMPLATE.read_text(), flags=re.M))
UNIT_SECTIONS = set(re.findall(r"^\[([A-Za-z]+)\]$", UNIT_TEMPLATE.read_text(), flags=re.M))


def systemd_words(value: str) -> list[str]:
    """Split an ExecStart= value the way systemd does: specifiers (%%) first, then words with
    double quotes and C escapes, then $$ (environment expansion) per word."""
    value = value.replace("%%", "\0")
    assert "%" not in value, "an unescaped systemd specifier"
    words, i = [], 0
    while i < len(value):
        if value[i] in " \t":
            i += 1
            continue
        word = ""
        while i < len(value) and value[i] not in " \t":
            if value[i] == '"':
                i += 1
                while value[i] != '"':
                    if value[i] == "\\":
                        i += 1
                    word += value[i]
                    i += 1
                i += 1
            elif value[i] == "\\":
                word += value[i + 1]
                i += 2
            else:
                word += value[i]
                i += 1
        assert "$" not in word.replace("$$", ""), f"an environment variable reference in {word!r}"
        words.append(word.replace("$$", "$").replace("\0", "%"))
    return words


# For rendering: values the model mostly accepts, hostile characters included.
render_ids = st.one_of(st.from_regex(SLUG, fullmatch=True), ids)
render_names = st.one_of(
    st.none(),
    st.text(
        alphabet=st.one_of(
            st.sampled_from(list(";$`|&<>(){}[]'\"\\/.%#*?!~= \u00e9\u0430\u00a0")),
            st.characters(exclude_categories=("Cc", "Cs", "Cn")),
        ),
        min_size=1,
        max_size=64,
    ),
)
gateways_with_cameras = st.builds(
    lambda cams, hls_root, recordings_root: (cams, hls_root, recordings_root),
    st.lists(st.tuples(render_ids, render_names, camera_settings), min_size=1, max_size=4, unique_by=lambda c: c[0]),
    hls_roots,
    recordings_roots,
)


def build(spec) -> Gateway:
    cams, hls_root, recordings_root = spec
    raw = [cam(id=i, **({} if n is None else {"name": n}), **s) for i, n, s in cams]
    gw = accepted(*raw, hls_root=hls_root, recordings_root=recordings_root)
    if gw is None:  # keep the valid cameras only: every example renders something
        gw = accepted(*[c for c in raw if accepted(c)], hls_root=hls_root, recordings_root=recordings_root)
    assume(gw is not None and gw.cameras)
    return gw


@RENDER_SETTINGS
@given(gateways_with_cameras, st.sampled_from([4, 5, 6, 7]))
def test_camera_unit_has_one_exec_start_and_no_injected_line(spec, major):
    gw = build(spec)
    for camera in gw.cameras:
        unit = render_camera_unit(gw, camera, major)
        lines = unit.splitlines()
        assert sum(line.startswith("ExecStart=") for line in lines) == 1
        for line in lines:
            assert not line.endswith("\\"), f"a continued line: {line!r}"
            if not line or line.startswith("#"):
                continue
            section = re.fullmatch(r"\[([A-Za-z]+)\]", line)
            if section:
                assert section[1] in UNIT_SECTIONS
                continue
            key, sep, _value = line.partition("=")
            assert sep and key in UNIT_KEYS, f"unexpected line {line!r}"
        description = next(line for line in lines if line.startswith("Description="))
        assert "%" not in description.replace("%%", ""), "an unescaped specifier in Description="
        exec_start = next(line for line in lines if line.startswith("ExecStart="))
        recordings = f"{gw.recordings_root}/{camera.id}" if camera.record else None
        argv = camera_args(camera, f"{gw.hls_root}/{camera.id}", major, recordings, snapshot=camera.snapshot)
        assert systemd_words(exec_start.removeprefix("ExecStart=")) == [
            "/usr/local/lib/camgate/camgate-camera-run",
            *argv,
        ]


NGINX_TOKEN = re.compile(r'\s+|#[^\n]*|"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|[{};]|[^\s{};"\'#]+', re.S)


def nginx_tokens(text: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(text):
        match = NGINX_TOKEN.match(text, pos)
        assert match, f"nginx cannot tokenize at {text[pos : pos + 40]!r}"
        pos = match.end()
        token = match.group()
        if not token.isspace() and not token.startswith("#"):
            tokens.append(token)
    return tokens


def nginx_structure(tokens: list[str]) -> list[str]:
    return ['""' if t[0] in "\"'" else t for t in tokens]


def nginx_unquote(token: str) -> str:
    return re.sub(r"\\(.)", r"\1", token[1:-1]).replace("${dollar}", "$")


site_fields = st.fixed_dictionaries(
    {},
    optional={
        "tls": st.sampled_from(["letsencrypt", "selfsigned", "off"]),
        "cors_origin": st.one_of(
            st.sampled_from(["*", "https://app.example.com", "http://localhost:3000", "https://a-b.example.net:8443"]),
            st.from_regex(r"https?://[a-z0-9.-]{1,20}(:[0-9]{1,5})?", fullmatch=True),
            st.text(alphabet=st.sampled_from(HOSTILE + list("https:/.example")), max_size=30),
        ),
        "alt_domains": st.lists(
            st.from_regex(r"[a-z]{1,8}\.example\.(com|net)", fullmatch=True), max_size=3, unique=True
        ),
        "https_port": st.integers(1, 65535),
        "http_port": st.sampled_from([80, 8080]),
    },
)


@RENDER_SETTINGS
@given(gateways_with_cameras, site_fields, st.sampled_from([(1, 18, 0), (1, 22, 1), (1, 25, 3)]))
def test_nginx_site_is_balanced_and_camera_values_stay_out_of_its_syntax(spec, fields, version):
    gw = build(spec)
    gw2 = accepted(
        *[c.to_data() for c in gw.cameras], **{**fields, "hls_root": gw.hls_root, "recordings_root": gw.recordings_root}
    )
    assume(gw2 is not None)
    site = render_nginx_site(gw2, version)
    tokens = nginx_tokens(site)
    depth = 0
    for token in tokens:
        depth += {"{": 1, "}": -1}.get(token, 0)
        assert depth >= 0
    assert depth == 0
    # Cameras change nothing outside quoted strings (today: nothing at all): the token structure is
    # that of the same gateway with one plain camera.
    baseline = accepted(
        cam(id="plain", name="Plain"), **{**fields, "hls_root": gw.hls_root, "recordings_root": gw.recordings_root}
    )
    assert nginx_structure(tokens) == nginx_structure(nginx_tokens(render_nginx_site(baseline, version)))
    # The CORS origin is one quoted token, and it is exactly the inventory's value.
    origins = [
        tokens[i + 2]
        for i, t in enumerate(tokens)
        if t == "add_header" and tokens[i + 1] == "Access-Control-Allow-Origin"
    ]
    assert origins and all(t.startswith('"') and nginx_unquote(t) == gw2.cors_origin for t in origins)
    server_names = {tuple(tokens[i + 1 : tokens.index(";", i)]) for i, t in enumerate(tokens) if t == "server_name"}
    assert server_names == {gw2.certificate_names}


@RENDER_SETTINGS
@given(gateways_with_cameras)
def test_njs_catalog_is_json_that_round_trips_the_names(spec):
    gw = build(spec)
    module = render_manifest_module(gw)
    (line,) = [line for line in module.splitlines() if line.startswith("var CATALOG = ")]
    assert line.endswith(";")
    catalog = json.loads(line.removeprefix("var CATALOG = ").removesuffix(";"))
    assert {cid: c["name"] for cid, c in catalog["cameras"].items()} == {c.id: c.name for c in gw.enabled_cameras}
    # Nothing but that line depends on the cameras.
    plain = render_manifest_module(accepted(cam(id="plain")))
    assert [x for x in module.splitlines() if not x.startswith("var CATALOG = ")] == [
        x for x in plain.splitlines() if not x.startswith("var CATALOG = ")
    ]
    assert line.isascii()  # JSON escapes (\uXXXX) for everything else, U+2028/2029 included
