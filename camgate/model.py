"""The camera and gateway model: every field, its default, its rule and its fix, in one place.

The inventory, the roles, the CLI and the tests all go through this module. A value that passes
validation is safe to place in a systemd unit, an nginx config, a file path and a URL; the rules
below are written with that in mind (slugs for ids, no control characters anywhere, no userinfo in
camera URLs).
"""

from __future__ import annotations

import difflib
import hashlib
import ipaddress
import re
from dataclasses import dataclass, fields
from typing import Any, Callable
from urllib.parse import urlsplit

from pyinfra.api.exceptions import InventoryError as _PyinfraInventoryError

from camgate import paths
from camgate.secrets import parse_secret_ref
from camgate.units import parse_duration, parse_min_free, parse_size


class InventoryError(_PyinfraInventoryError, ValueError):
    """A bad inventory value. Subclasses pyinfra's error so `pyinfra` prints it as one clean line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


_MISSING = object()

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")
SLUG_HELP = "use 1-32 lowercase ASCII letters, digits and '-', starting and ending with a letter or digit"
HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
# Characters allowed in the path and query of a camera URL: RFC 3986 unreserved, sub-delims that
# vendors use ('&', '=', ';', ','), percent escapes, '/', '?', ':', '@'. Quotes, spaces, '$', '`',
# '\\', '%' not followed by two hex digits, and every control character are refused.
URL_TAIL_RE = re.compile(r"^(?:[A-Za-z0-9\-._~!&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*$")
ABS_PATH_RE = re.compile(r"^/(?:[A-Za-z0-9_.-]+/)*[A-Za-z0-9_.-]+$")
EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
LETSENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
LETSENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
TLS_MODES = ("letsencrypt", "selfsigned", "provided", "off")


@dataclass(frozen=True)
class Spec:
    """One inventory field: its type, default, rule and the doc line shown in docs/inventory.md."""

    name: str
    types: tuple[type, ...]
    default: Any
    doc: str
    check: Callable[[Any], str | None] | None = None

    @property
    def required(self) -> bool:
        return self.default is _MISSING


def defaults_of(specs: tuple[Spec, ...]) -> dict[str, Any]:
    """Each optional field's default, as the field table gives it."""
    return {spec.name: spec.default for spec in specs if not spec.required}


def _has_control_chars(text: str) -> bool:
    return any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 or ch in "\u2028\u2029" for ch in text)


def check_slug(value: str) -> str | None:
    # fullmatch, not match: '$' also matches before a trailing newline ("front\n" is not an id).
    if not SLUG_RE.fullmatch(value):
        return f"{value!r} is not a valid id; fix: {SLUG_HELP} (e.g. 'front-door')"
    return None


def check_display_name(value: str) -> str | None:
    if not value.strip():
        return "is empty; fix: give a display name such as 'Front door'"
    if len(value) > 64:
        return f"is {len(value)} characters long; fix: use at most 64 characters"
    if _has_control_chars(value):
        return "contains a control character (newline, tab, ...); fix: use a single line of printable text"
    for ch in value:
        code = ord(ch)
        # Lone surrogates cannot be written as UTF-8 (the upload would fail); systemd drops a line
        # holding a noncharacter as invalid UTF-8; bidi embeddings/overrides/isolates make a name
        # display as something else (the app, journal and `systemctl status` show it).
        if 0xD800 <= code <= 0xDFFF or 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE:
            return f"contains the invalid character U+{code:04X}; fix: use a single line of printable text"
        if 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069:
            return (
                f"contains the text-direction control U+{code:04X}, which makes the name display as "
                "something else; fix: use a single line of printable text"
            )
    return None


def check_rtsp_url(value: str) -> str | None:
    if len(value) > 512:
        return "is longer than 512 characters; fix: shorten the camera URL"
    if _has_control_chars(value) or any(ch.isspace() for ch in value):
        return "contains whitespace or a control character; fix: percent-encode it (space is %20)"
    if not value.isascii():
        return "contains non-ASCII characters; fix: percent-encode them"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        return f"{value!r} is not a valid URL ({exc}); fix: use rtsp://HOST[:PORT]/PATH with a port 1-65535"
    if parts.scheme not in ("rtsp", "rtsps"):
        return f"scheme {parts.scheme or '(none)'!r} is not supported; fix: use rtsp:// or rtsps://"
    if "@" in parts.netloc:
        return (
            "embeds credentials; fix: remove 'user:password@' from the URL and set 'username' and "
            "'password_ref' instead"
        )
    host = parts.hostname or ""
    if not host:
        return f"{value!r} has no host; fix: use rtsp://HOST[:PORT]/PATH"
    if not _valid_host(host) or "%" in host:
        return f"host {host!r} is not a valid hostname or IP address; fix: use e.g. 192.168.1.20"
    if port is not None and not 1 <= port <= 65535 or parts.netloc.endswith(":"):
        return "has an invalid port; fix: use a port between 1 and 65535 (RTSP default 554)"
    # Rebuilt from what urllib understood, the authority must be what was written: anything else
    # ("[::1]x:554", "[cam.local]", port "0554") is read differently by ffmpeg's own URL parser.
    authority = (f"[{host}]" if ":" in host else host) + ("" if port is None else f":{port}")
    if parts.netloc.lower() != authority:
        return f"{value!r} has a malformed host part; fix: use rtsp://HOST[:PORT]/PATH (IPv6 as [ADDRESS])"
    tail = value[len(f"{parts.scheme}://{parts.netloc}"):]
    # URL_TAIL_RE lets "'" through as an RFC 3986 sub-delimiter; quotes are refused (see its comment).
    if not URL_TAIL_RE.fullmatch(tail) or "'" in tail:
        return (
            "path contains characters that are not allowed (quotes, '$', '`', '\\', '%' without two hex "
            "digits, ...); fix: percent-encode them"
        )
    if parts.fragment:
        return "has a '#fragment'; fix: remove it (cameras never use fragments)"
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _valid_host(host: str) -> bool:
    # A name whose last label is all digits ("192.168.1.300", "127.1", "0x7f.1") is no DNS name
    # (no top-level domain is numeric): it is a mistyped or shorthand IP address.
    if _is_ip(host):
        return True
    return bool(HOSTNAME_RE.fullmatch(host)) and not host.rsplit(".", 1)[-1].isdigit()


def check_username(value: str | None) -> str | None:
    if value is None:
        return None
    if not value or len(value) > 64:
        return "must be 1-64 characters; fix: use the camera's user name, or leave it unset"
    if _has_control_chars(value) or not value.isprintable():
        return "contains a control character; fix: use the camera's user name on one line"
    return None


def check_secret_ref(value: str | None) -> str | None:
    if value is None:
        return None
    return parse_secret_ref(value)[1]


def _choice(*allowed: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value not in allowed:
            options = ", ".join(repr(a) for a in allowed)
            return f"{value!r} is not one of {options}; fix: use one of {options}"
        return None

    return check


def _int_range(low: int, high: int, unit: str = "") -> Callable[[Any], str | None]:
    def check(value: int) -> str | None:
        if not low <= value <= high:
            return f"{value} is out of range; fix: use a whole number from {low} to {high}{unit}"
        return None

    return check


def check_hostname(value: str) -> str | None:
    if not _valid_host(value):
        return f"{value!r} is not a valid DNS name or IP address; fix: use e.g. 'cams.example.com'"
    if ":" in value:
        # base_url and the HTTPS redirect are built as https://<domain>: an IPv6 address would need brackets.
        return f"{value!r} is an IPv6 address; fix: give the gateway a DNS name (or use its IPv4 address)"
    return None


def check_onvif_address(value: str) -> str | None:
    host, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        return f"{value!r} has no valid port; fix: give ADDRESS or ADDRESS:PORT, e.g. '192.168.1.20:8080'"
    if not _valid_host(host or value):
        return f"{value!r} is not an address; fix: give the camera's IP address or name, e.g. '192.168.1.20'"
    return None


def check_hls_root(value: str) -> str | None:
    if not ABS_PATH_RE.fullmatch(value) or "/../" in f"{value}/" or "/./" in f"{value}/":
        return f"{value!r} is not a clean absolute path; fix: use e.g. '/run/camgate/hls'"
    if not value.startswith("/run/") or value.count("/") < 3:
        return (
            f"{value!r} is not below /run/<dir>/; fix: keep live HLS in tmpfs under /run "
            "(systemd creates and cleans it), e.g. '/run/camgate/hls'"
        )
    return None


def check_dns_names(value: list | tuple) -> str | None:
    for name in value:
        if not isinstance(name, str) or not _valid_host(name) or _is_ip(name):
            return f"{name!r} is not a DNS name; fix: list names such as 'cams2.example.com'"
    if len(set(value)) != len(value):
        return "lists a name twice; fix: list each name once"
    if len(value) > 20:
        return f"lists {len(value)} names; fix: use at most 20 (one certificate carries them all)"
    return None


def check_email(value: str) -> str | None:
    if not EMAIL_RE.fullmatch(value):
        return f"{value!r} is not an email address; fix: give the address Let's Encrypt writes to about expiry"
    return None


def check_https_url(value: str) -> str | None:
    problem = f"{value!r} is not an https:// URL; fix: use the ACME directory URL, e.g. {LETSENCRYPT_STAGING!r}"
    if not value.isascii() or _has_control_chars(value) or any(ch.isspace() or ch in "\"'`$\\<>{}|^" for ch in value):
        return problem
    try:
        parts = urlsplit(value)
        port = parts.port  # raises on a port that is not a number
    except ValueError:  # e.g. "https://[abc/": an unbalanced IPv6 bracket
        return problem
    host = parts.hostname or ""
    if parts.scheme != "https" or not host or "@" in parts.netloc or not _valid_host(host) or "%" in host:
        return problem
    if port is not None and not 1 <= port <= 65535 or parts.netloc.endswith(":"):
        return problem
    return None


def check_host_path(value: str) -> str | None:
    if not ABS_PATH_RE.fullmatch(value) or "/../" in f"{value}/" or "/./" in f"{value}/":
        return f"{value!r} is not a clean absolute path on the gateway; fix: use e.g. '/etc/ssl/private/cams.key'"
    return None


def check_duration(value: str, low: int, high: int) -> str | None:
    seconds = parse_duration(value)
    if seconds is None or not low <= seconds <= high:
        return f"{value!r} is not a duration from {low // 60} minutes to {high // 86400} days; fix: use e.g. '30m', '12h' or '7d'"
    return None


def check_recordings_root(value: str) -> str | None:
    if not ABS_PATH_RE.fullmatch(value) or "/../" in f"{value}/" or "/./" in f"{value}/":
        return f"{value!r} is not a clean absolute path; fix: use e.g. '/var/lib/camgate/recordings'"
    if value.count("/") < 2 or value.startswith(("/run/", "/tmp/", "/proc/", "/sys/", "/dev/", "/etc/")):
        return f"{value!r} is not a dedicated folder on persistent disk; fix: use e.g. '/srv/camgate/recordings'"
    return None


def check_networks(value: list | tuple) -> str | None:
    for item in value:
        if not isinstance(item, str):
            # ipaddress also takes integers, packed bytes and (address, prefix) tuples: 0 is 0.0.0.0/32.
            return f"{item!r} is not an address or network; fix: use CIDR text like '203.0.113.0/24' or '2001:db8::/32'"
        try:
            ipaddress.ip_network(item, strict=False)
        except (TypeError, ValueError):
            return f"{item!r} is not an address or network; fix: use CIDR like '203.0.113.0/24' or '2001:db8::/32'"
    return None


def parse_port_range(value: str) -> tuple[int, int] | None:
    match = re.fullmatch(r"([0-9]{1,5})-([0-9]{1,5})", value)
    if not match:
        return None
    low, high = int(match[1]), int(match[2])
    return (low, high) if 1024 <= low <= high <= 65535 else None


def check_port_range(value: str) -> str | None:
    found = parse_port_range(value)
    if found is None:
        return f"{value!r} is not a port range; fix: use 'LOW-HIGH' within 1024-65535, e.g. '40000-40999'"
    if found[1] - found[0] + 1 < 10:
        return f"{value!r} holds fewer than 10 ports; fix: give at least one port per expected viewer, e.g. '40000-40999'"
    return None


def check_cors_origin(value: str) -> str | None:
    if value == "*":
        return None
    # fullmatch: "https://app.example.com\n" would put a line break into a response header.
    origin = re.fullmatch(r"https?://([A-Za-z0-9.-]+)(?::([0-9]{1,5}))?", value)
    if origin and _valid_host(origin[1]) and (origin[2] is None or 1 <= int(origin[2]) <= 65535):
        return None
    return f"{value!r} is not '*' or an origin like 'https://app.example.com'; fix: use one of those forms"


CAMERA_SPECS: tuple[Spec, ...] = (
    Spec("id", (str,), _MISSING, "Slug used in unit names, paths and URLs (`front-door`).", check_slug),
    Spec("name", (str,), None, "Display name for the app; defaults to the id.", check_display_name),
    Spec("url", (str,), _MISSING, "Camera stream, `rtsp://` or `rtsps://`, without credentials.", check_rtsp_url),
    Spec(
        "sub_url",
        (str, type(None)),
        None,
        "The camera's small 'sub' profile (e.g. `/Streaming/Channels/102`, `subtype=1`), same credentials: "
        "a second variant for phones on cellular, copied by its own unit (the camera sees two connections).",
        check_rtsp_url,
    ),
    Spec(
        "onvif",
        (str, type(None)),
        None,
        "The camera's ONVIF device service, `ADDRESS` or `ADDRESS:PORT` (port 80 by default), reached from the "
        "gateway with the camera's username and password: `camgate camera tune` sets its keyframe interval there.",
        check_onvif_address,
    ),
    Spec("username", (str, type(None)), None, "RTSP user name, if the camera needs one.", check_username),
    Spec(
        "password_ref",
        (str, type(None)),
        None,
        "Where the RTSP password lives: `secret:KEY` (site secrets file) or `env:VAR`; never the password.",
        check_secret_ref,
    ),
    Spec("transport", (str,), "tcp", "RTSP transport: `tcp` (reliable) or `udp`.", _choice("tcp", "udp")),
    Spec(
        "video",
        (str,),
        "copy",
        "`copy` (H.264/H.265 as the camera sends it; any other codec is reported unplayable) or `transcode` "
        "(re-encode to H.264, for MJPEG/MPEG-4 cameras: costs CPU, `camgate plan` shows how much).",
        _choice("copy", "transcode"),
    ),
    Spec(
        "audio",
        (str,),
        "aac",
        "`copy` (camera already sends AAC), `aac` (transcode, works for G.711) or `none` (drop audio).",
        _choice("copy", "aac", "none"),
    ),
    Spec("hls_time", (int,), 2, "Target segment length in seconds (cut at keyframes).", _int_range(1, 10, " seconds")),
    Spec("hls_list_size", (int,), 6, "Segments listed in the live playlist.", _int_range(3, 60)),
    Spec(
        "rtsp_timeout",
        (int,),
        5,
        "Seconds without data before ffmpeg gives up and systemd restarts it.",
        _int_range(2, 60, " seconds"),
    ),
    Spec(
        "bitrate_kbps",
        (int,),
        2000,
        "The camera's bitrate (video + audio) in kbit/s, for `camgate plan` until `camgate probe` measures it.",
        _int_range(32, 100_000, " kbit/s"),
    ),
    Spec("record", (bool,), False, "Keep recordings (from the same RTSP pull as live) on persistent disk.", None),
    Spec(
        "retention",
        (str,),
        "7d",
        "How long recordings are kept: `30m`, `12h`, `7d` (the gateway's disk budget may delete sooner).",
        lambda v: check_duration(v, 60, 10 * 365 * 86400),
    ),
    Spec(
        "record_segment",
        (int,),
        60,
        "Seconds per recording file (cut at keyframes); a crash loses at most the file being written.",
        _int_range(10, 3600, " seconds"),
    ),
    Spec(
        "encrypt",
        (bool,),
        False,
        "AES-128 segment encryption; keys rotate every `hls_key_rotation` seconds and are served only "
        "under the same signed path as the playlist.",
        None,
    ),
    Spec(
        "snapshot",
        (bool,),
        True,
        "A JPEG still every few seconds from the same pull (keyframes decoded only), for the app's grid.",
        None,
    ),
    Spec(
        "webrtc",
        (str,),
        "off",
        "Live view under a second over WebRTC (WHEP): `off`, `main` or `sub` (which stream camgate-webrtc relays; "
        "the camera still sees one connection per stream). WebRTC carries H.264: an H.265 camera needs its "
        "H.264 sub profile here, or video='transcode'.",
        _choice("off", "main", "sub"),
    ),
    Spec(
        "webrtc_audio",
        (str,),
        "opus",
        "Audio over WebRTC: `opus` (transcoded from what the camera sends), `pcma` or `pcmu` (the camera's "
        "G.711 passed through untouched; `camgate probe` says which) or `none`. A camera with "
        "video='transcode' sends video only.",
        _choice("opus", "pcma", "pcmu", "none"),
    ),
    Spec("enabled", (bool,), True, "`False` keeps the camera in the inventory but removes it from the host.", None),
)

GATEWAY_SPECS: tuple[Spec, ...] = (
    Spec("domain", (str,), None, "Name the app uses to reach the gateway; defaults to the inventory host name.", check_hostname),
    Spec(
        "alt_domains",
        (list, tuple),
        (),
        "More DNS names the gateway answers to; the certificate carries `domain` and these.",
        check_dns_names,
    ),
    Spec(
        "tls",
        (str,),
        "letsencrypt",
        "`letsencrypt` (certbot, webroot), `selfsigned` (a local CA for LAN-only sites), `provided` "
        "(your certificate and key on the gateway) or `off` (plain HTTP, local development only).",
        _choice(*TLS_MODES),
    ),
    Spec("acme_email", (str, type(None)), None, "Contact address for the ACME account (required with `letsencrypt`).", check_email),
    Spec(
        "acme_server",
        (str,),
        LETSENCRYPT,
        f"ACME directory URL: Let's Encrypt by default, `{LETSENCRYPT_STAGING}` for staging, or another CA.",
        check_https_url,
    ),
    Spec(
        "acme_ca_bundle",
        (str, type(None)),
        None,
        "CA bundle (a file on the machine running pyinfra) that certbot trusts for `acme_server`'s own HTTPS.",
        None,
    ),
    Spec("tls_certificate", (str, type(None)), None, "With `provided`: full-chain PEM path on the gateway.", check_host_path),
    Spec("tls_key", (str, type(None)), None, "With `provided`: private key PEM path on the gateway.", check_host_path),
    Spec("http_port", (int,), 80, "Port nginx serves HTTP on (ACME challenges and the redirect to HTTPS).", _int_range(1, 65535)),
    Spec("https_port", (int,), 443, "Port nginx serves HTTPS on.", _int_range(1, 65535)),
    Spec("hls_root", (str,), "/run/camgate/hls", "Live HLS directory (tmpfs, below /run).", check_hls_root),
    Spec("cors_origin", (str,), "*", "Value of Access-Control-Allow-Origin on stream responses.", check_cors_origin),
    Spec(
        "secrets_file",
        (str, type(None)),
        None,
        "Git-ignored TOML file (on the machine running pyinfra) that `secret:` references read.",
        None,
    ),
    Spec(
        "firewall",
        (bool,),
        True,
        "nftables on the gateway: inbound SSH, HTTP and HTTPS only; `False` leaves the host's firewall alone.",
        None,
    ),
    Spec(
        "hide_processes",
        (bool,),
        True,
        "Mount /proc with hidepid=invisible: other users cannot read ffmpeg's argument list, which holds "
        "the camera URL with its credentials (root still sees all).",
        None,
    ),
    Spec(
        "ssh_allow_from",
        (list, tuple),
        (),
        "Addresses/networks (CIDR) allowed to reach SSH; empty allows any. The deploying machine is always allowed.",
        check_networks,
    ),
    Spec(
        "url_ttl",
        (int,),
        3600,
        "Seconds a signed stream URL stays valid (the manifest and `camgate sign` default).",
        _int_range(60, 7 * 86400, " seconds"),
    ),
    Spec(
        "url_secret_ref",
        (str, type(None)),
        None,
        "Signing secret for stream URLs from the secrets store (`secret:KEY`/`env:VAR`); unset: generated on "
        "the gateway once and kept there (root only).",
        check_secret_ref,
    ),
    Spec(
        "hls_key_rotation",
        (int,),
        600,
        "Seconds between AES-128 key changes for cameras with `encrypt=True`.",
        _int_range(60, 86400, " seconds"),
    ),
    Spec(
        "recordings_root",
        (str,),
        "/var/lib/camgate/recordings",
        "Where recordings live (persistent disk, one folder per camera).",
        check_recordings_root,
    ),
    Spec(
        "recordings_max_size",
        (str, type(None)),
        None,
        "Most disk the recordings may use, e.g. `500G`; the oldest files go first, across cameras.",
        lambda v: None if parse_size(v) else f"{v!r} is not a size; fix: use e.g. '500G', '2T' or '800M'",
    ),
    Spec(
        "recordings_min_free",
        (str,),
        "5%",
        "Free space to keep on the recordings disk (`5%` or `20G`); the oldest recordings go first below it.",
        lambda v: None if parse_min_free(v) else f"{v!r} is not a size or percentage; fix: use e.g. '5%' or '20G'",
    ),
    Spec(
        "webrtc_ports",
        (str,),
        "40000-40999",
        "UDP ports camgate-webrtc sends and receives WebRTC media on (ICE; one per viewer), opened in the firewall.",
        lambda v: check_port_range(v),
    ),
    Spec(
        "webrtc_max_viewers",
        (int,),
        100,
        "Most WebRTC viewers at once on the gateway; more get 429 (the app plays HLS instead).",
        _int_range(1, 10_000),
    ),
    Spec(
        "webrtc_max_viewers_per_user",
        (int,),
        16,
        "Most WebRTC viewers one app user may have open at once (a 16-camera wall is 16).",
        _int_range(1, 1000),
    ),
    Spec("turn_port", (int,), 3478, "TURN/STUN port of coturn (UDP and TCP), for viewers WebRTC cannot reach directly.", _int_range(1, 65535)),
    Spec("turns_port", (int,), 5349, "TURN over TLS port of coturn (TCP), with the gateway's certificate.", _int_range(1, 65535)),
    Spec(
        "turn_relay_ports",
        (str,),
        "49152-49999",
        "UDP ports coturn relays media on (one per relayed viewer), opened in the firewall.",
        lambda v: check_port_range(v),
    ),
    Spec(
        "metrics_from",
        (list, tuple),
        (),
        "Addresses/networks (CIDR) of the Prometheus servers that may scrape the gateway's metrics "
        "(`https://<domain>:<metrics_port>/metrics`); empty: no metrics endpoint and no port open (docs/metrics.md).",
        check_networks,
    ),
    Spec("metrics_port", (int,), 9100, "Port the metrics endpoint listens on (HTTPS with the gateway's certificate).", _int_range(1, 65535)),
    Spec("metrics_user", (str,), "prometheus", "User name Prometheus scrapes with (HTTP basic auth).", lambda v: check_user_name(v)),
    Spec(
        "metrics_password_ref",
        (str, type(None)),
        None,
        "Where the metrics user's password **hash** lives (`secret:KEY`/`env:VAR`, from `camgate hash-password`); "
        "required with metrics_from.",
        check_secret_ref,
    ),
    Spec(
        "edges",
        (list, tuple),
        (),
        "Caching edges in front of the gateway, each made by `camgate.inventory.edge(...)` (see the edge fields): "
        "they check the same signed URLs and serve viewers from their cache; the manifest hands out their "
        "names instead of the gateway's (docs/edges.md). Needs url_secret_ref and TLS.",
        None,
    ),
    Spec(
        "origin_port",
        (int,),
        8443,
        "Port the edges fetch from (HTTPS with the gateway's certificate): open in the firewall to the edges' "
        "addresses only, and every request must carry the edge's credential.",
        _int_range(1, 65535),
    ),
    Spec(
        "origin_address",
        (str, type(None)),
        None,
        "Address or name the edges connect to (a private or VPN address, say); unset: `domain` as DNS resolves "
        "it for them. They check the certificate against the gateway's first DNS name either way.",
        check_hostname,
    ),
    Spec(
        "edge_choice",
        (str,),
        "user",
        "Which edge the manifest hands out: `user` (one edge per app user, all their cameras through it) or "
        "`camera` (one edge per camera, every user of it shares that edge's cache). Both are stable: a hash of "
        "the name over the edges in declared order.",
        _choice("user", "camera"),
    ),
    Spec("app_users", (list, tuple), (), "Who may use the app and see which cameras (see the app user fields).", None),
    Spec("cameras", (list, tuple), (), "The gateway's cameras (see the camera fields).", None),
)
# An edge's own settings: the gateway's fields of the same name (TLS, ports, firewall, metrics) plus these.
EDGE_SHARED_FIELDS = (
    "alt_domains", "tls", "acme_email", "acme_server", "acme_ca_bundle", "tls_certificate", "tls_key", "http_port",
    "https_port", "cors_origin", "secrets_file", "firewall", "hide_processes", "ssh_allow_from", "metrics_from",
    "metrics_port", "metrics_user", "metrics_password_ref",
)  # fmt: skip


def check_address(value: str) -> str | None:
    if not _is_ip(value):
        return f"{value!r} is not an IP address; fix: give the address the edge's requests come from, e.g. '198.51.100.20'"
    return None


EDGE_SPECS: tuple[Spec, ...] = (
    Spec("host", (str,), _MISSING, "How pyinfra reaches the edge over SSH (name or address).", check_hostname),
    Spec("domain", (str,), None, "Name viewers reach the edge by (its certificate's); defaults to the host name.", check_hostname),
    Spec(
        "address",
        (str,),
        _MISSING,
        "The edge's IP address as its gateways see it: their firewalls open origin_port to it alone.",
        check_address,
    ),
    Spec(
        "secret_ref",
        (str,),
        _MISSING,
        "The edge's credential towards its gateways (`secret:KEY`/`env:VAR`): 24-128 URL-safe characters, "
        "e.g. `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`; the gateways refuse edge requests without it.",
        check_secret_ref,
    ),
    Spec(
        "cache_max_size",
        (str,),
        "2G",
        "Most disk the edge's cache may use (`2G`, `500M`); nginx evicts the least recently used files.",
        lambda v: None if parse_size(v) else f"{v!r} is not a size; fix: use e.g. '2G' or '500M'",
    ),
    Spec(
        "origin_ca",
        (str, type(None)),
        None,
        "CA file (PEM, on the machine running pyinfra) the edge trusts for its gateways' certificates; unset: "
        "the system's CAs. Required when a gateway has tls='selfsigned' (`camgate tls-ca` prints its CA).",
        None,
    ),
    *(spec for spec in GATEWAY_SPECS if spec.name in EDGE_SHARED_FIELDS),
    Spec("ssh", (dict,), {}, "SSH settings (ssh_user, ssh_port, ssh_key, ssh_known_hosts_file), as `edge()` takes them.", None),
)
GATEWAY_DEFAULTS = defaults_of(GATEWAY_SPECS)
CAMERA_DEFAULTS = defaults_of(CAMERA_SPECS)


@dataclass(frozen=True)
class Stream:
    """One RTSP pull of a camera: its own unit, credentials file and HLS folder, all named by `id`
    (the camera's id for the main stream, '<id>.sub' for the sub stream: ids hold no dots)."""

    id: str
    url: str
    main: bool

    @property
    def unit_name(self) -> str:
        return paths.camera_unit(self.id)


@dataclass(frozen=True)
class Camera:
    """A validated camera: every field is set (the defaults live in CAMERA_SPECS only)."""

    id: str
    url: str
    name: str
    username: str | None
    password_ref: str | None
    transport: str
    video: str
    audio: str
    hls_time: int
    hls_list_size: int
    rtsp_timeout: int
    bitrate_kbps: int
    record: bool
    retention: str
    record_segment: int
    encrypt: bool
    enabled: bool
    sub_url: str | None
    onvif: str | None
    snapshot: bool
    webrtc: str
    webrtc_audio: str

    @property
    def unit_name(self) -> str:
        return paths.camera_unit(self.id)

    @property
    def streams(self) -> tuple[Stream, ...]:
        """What the gateway pulls from this camera: its main stream, and its sub stream if it has one."""
        main = Stream(self.id, self.url, main=True)
        return (main, Stream(paths.sub_stream_id(self.id), self.sub_url, main=False)) if self.sub_url else (main,)

    @property
    def webrtc_stream(self) -> Stream | None:
        """The stream camgate-webrtc relays, or None with webrtc='off'."""
        if self.webrtc == "off":
            return None
        return next(s for s in self.streams if s.main == (self.webrtc == "main"))

    def to_data(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


APP_USER_SPECS: tuple[Spec, ...] = (
    Spec("name", (str,), _MISSING, "Login name in the app (`alice`).", lambda v: check_user_name(v)),
    Spec(
        "password_ref",
        (str,),
        _MISSING,
        "Where the password **hash** lives (`secret:KEY`/`env:VAR`); make it with `camgate hash-password`.",
        check_secret_ref,
    ),
    Spec(
        "cameras",
        (list, tuple),
        _MISSING,
        "Camera ids this user may see, or `['*']` for every camera of the gateway.",
        None,
    ),
)
USER_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")


def check_user_name(value: str) -> str | None:
    # fullmatch: "alice\n" would add a line to the htpasswd file.
    if not USER_NAME_RE.fullmatch(value):
        return f"{value!r} is not a valid user name; fix: use 1-32 lowercase letters, digits, '.', '_' or '-'"
    return None



@dataclass(frozen=True)
class AppUser:
    name: str
    password_ref: str
    cameras: tuple[str, ...]

    def to_data(self) -> dict[str, Any]:
        return {"name": self.name, "password_ref": self.password_ref, "cameras": list(self.cameras)}


class Site:
    """What gateways and edges share: a host with a domain, TLS, ports and metrics (roles.tls,
    roles.letsencrypt, roles.firewall and roles.metrics serve both)."""

    domain: str
    alt_domains: tuple[str, ...]
    tls: str
    http_port: int
    https_port: int
    metrics_from: tuple[str, ...]

    @property
    def https(self) -> bool:
        return self.tls != "off"

    @property
    def certificate_names(self) -> tuple[str, ...]:
        return (self.domain, *self.alt_domains)

    @property
    def base_url(self) -> str:
        if self.https:
            port = "" if self.https_port == 443 else f":{self.https_port}"
            return f"https://{self.domain}{port}"
        port = "" if self.http_port == 80 else f":{self.http_port}"
        return f"http://{self.domain}{port}"

    @property
    def metrics(self) -> bool:
        """Whether the host serves Prometheus metrics (some scraper is allowed)."""
        return bool(self.metrics_from)


@dataclass(frozen=True)
class Origin:
    """What an edge knows of one gateway it fronts: where to fetch, how to check its URLs, which cameras."""

    host: str
    tls_name: str  # the DNS name the edge checks the gateway's certificate against
    connect: str  # where the edge connects: origin_address, else that name
    origin_port: int
    url_secret_ref: str
    secrets_file: str | None
    tls: str
    hls_key_rotation: int
    cameras: tuple[str, ...]

    @property
    def name(self) -> str:
        """A slug naming the gateway in the edge's nginx config (upstream, cache key, log)."""
        return "gw-" + hashlib.sha1(self.host.encode()).hexdigest()[:10]

    def to_data(self) -> dict[str, Any]:
        return {**{f.name: getattr(self, f.name) for f in fields(self)}, "cameras": list(self.cameras)}


@dataclass(frozen=True)
class Edge(Site):
    """A validated caching edge: its own settings, and (on the edge host) the gateways it fronts."""

    host: str
    domain: str
    address: str
    secret_ref: str
    cache_max_size: str
    origin_ca: str | None
    alt_domains: tuple[str, ...]
    tls: str
    acme_email: str | None
    acme_server: str
    acme_ca_bundle: str | None
    tls_certificate: str | None
    tls_key: str | None
    http_port: int
    https_port: int
    cors_origin: str
    secrets_file: str | None
    firewall: bool
    hide_processes: bool
    ssh_allow_from: tuple[str, ...]
    metrics_from: tuple[str, ...]
    metrics_port: int
    metrics_user: str
    metrics_password_ref: str | None
    ssh: dict
    origins: tuple[Origin, ...] = ()

    # An edge runs no camera: the roles it shares with gateways see none.
    @property
    def webrtc_cameras(self) -> tuple:
        return ()

    @property
    def recording_cameras(self) -> tuple:
        return ()

    def origin_of(self, camera_id: str) -> Origin:
        for origin in self.origins:
            if camera_id in origin.cameras:
                return origin
        raise KeyError(camera_id)

    def declaration(self) -> dict[str, Any]:
        """The edge's own fields as `edge()` gave them (what its gateways hold)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "origins"}
        for name in ("alt_domains", "ssh_allow_from", "metrics_from"):
            data[name] = list(data[name])
        data["ssh"] = dict(self.ssh)
        return data

    def to_data(self) -> dict[str, Any]:
        return {**self.declaration(), "origins": [o.to_data() for o in self.origins]}


@dataclass(frozen=True)
class Gateway(Site):
    """A validated gateway: every field is set (the defaults live in GATEWAY_SPECS only)."""

    host: str
    domain: str
    alt_domains: tuple[str, ...]
    tls: str
    acme_email: str | None
    acme_server: str
    acme_ca_bundle: str | None
    tls_certificate: str | None
    tls_key: str | None
    http_port: int
    https_port: int
    hls_root: str
    cors_origin: str
    secrets_file: str | None
    firewall: bool
    hide_processes: bool
    ssh_allow_from: tuple[str, ...]
    url_ttl: int
    url_secret_ref: str | None
    hls_key_rotation: int
    recordings_root: str
    recordings_max_size: str | None
    recordings_min_free: str
    webrtc_ports: str
    webrtc_max_viewers: int
    webrtc_max_viewers_per_user: int
    turn_port: int
    turns_port: int
    turn_relay_ports: str
    metrics_from: tuple[str, ...]
    metrics_port: int
    metrics_user: str
    metrics_password_ref: str | None
    edges: tuple[Edge, ...]
    origin_port: int
    origin_address: str | None
    edge_choice: str
    app_users: tuple[AppUser, ...]
    cameras: tuple[Camera, ...]

    @property
    def enabled_cameras(self) -> tuple[Camera, ...]:
        return tuple(c for c in self.cameras if c.enabled)

    def camera(self, camera_id: str) -> Camera:
        for cam in self.cameras:
            if cam.id == camera_id:
                return cam
        raise KeyError(camera_id)

    def hls_dir(self, camera: Camera | Stream) -> str:
        return paths.camera_hls_dir(self.hls_root, camera.id)

    def recordings_dir(self, camera: Camera) -> str:
        return paths.camera_recordings_dir(self.recordings_root, camera.id)

    @property
    def recording_cameras(self) -> tuple[Camera, ...]:
        return tuple(c for c in self.enabled_cameras if c.record)

    @property
    def encrypted_cameras(self) -> tuple[Camera, ...]:
        return tuple(c for c in self.enabled_cameras if c.encrypt)

    @property
    def webrtc_cameras(self) -> tuple[Camera, ...]:
        return tuple(c for c in self.enabled_cameras if c.webrtc != "off")

    def cameras_of(self, user: AppUser) -> tuple[Camera, ...]:
        """The enabled cameras an app user may see."""
        if "*" in user.cameras:
            return self.enabled_cameras
        return tuple(c for c in self.enabled_cameras if c.id in user.cameras)

    def to_data(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("host", "cameras")}
        data["alt_domains"] = list(self.alt_domains)
        data["ssh_allow_from"] = list(self.ssh_allow_from)
        data["metrics_from"] = list(self.metrics_from)
        data["cameras"] = [c.to_data() for c in self.cameras]
        data["app_users"] = [u.to_data() for u in self.app_users]
        data["edges"] = [e.declaration() for e in self.edges]
        return data

    def origin(self) -> Origin:
        """This gateway as its edges see it."""
        assert self.url_secret_ref is not None  # parse_gateway requires it with edges
        cameras = tuple(c.id for c in self.enabled_cameras)
        tls_name = next(name for name in self.certificate_names if not _is_ip(name))
        return Origin(self.host, tls_name, self.origin_address or tls_name, self.origin_port, self.url_secret_ref,
                      self.secrets_file, self.tls, self.hls_key_rotation, cameras)  # fmt: skip


def _where(host: str, camera: str | None = None) -> str:
    place = f"host {host!r}"
    if camera is not None:
        place += f" camera {camera!r}"
    return place


def _type_name(types: tuple[type, ...]) -> str:
    names = {str: "text", int: "a whole number", bool: "true/false", list: "a list", tuple: "a list"}
    return " or ".join(dict.fromkeys(names.get(t, "unset") for t in types))


def _read_fields(
    raw: Any, specs: tuple[Spec, ...], where: str, problems: list[str], what: str
) -> dict[str, Any] | None:
    """Check keys, types and rules of one mapping; append one line per problem."""
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected {what} as a mapping of fields, got {type(raw).__name__}")
        return None
    known = {s.name for s in specs}
    values: dict[str, Any] = {}
    for key in raw:
        if key not in known:
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known fields are {', '.join(sorted(known))}"
            problems.append(f"{where}: field {key!r}: unknown field; fix: {hint}")
    for spec in specs:
        if spec.name not in raw:
            if spec.required:
                problems.append(f"{where}: field {spec.name!r}: is required; fix: set it ({spec.doc})")
            else:
                values[spec.name] = spec.default
            continue
        value = raw[spec.name]
        # bool is an int in Python; a camera with hls_time=True is a typo, not 1 second.
        wrong_bool = isinstance(value, bool) and bool not in spec.types
        if wrong_bool or not isinstance(value, spec.types):
            problems.append(
                f"{where}: field {spec.name!r}: expected {_type_name(spec.types)}, got {value!r}; "
                f"fix: {spec.doc}"
            )
            continue
        problem = spec.check(value) if spec.check and value is not None else None
        if problem:
            problems.append(f"{where}: field {spec.name!r}: {problem}")
            continue
        values[spec.name] = value
    return values


def parse_camera(raw: Any, host: str, problems: list[str], index: int) -> Camera | None:
    label = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else f"#{index + 1}"
    where = _where(host, label)
    values = _read_fields(raw, CAMERA_SPECS, where, problems, "a camera")
    if values is None or any(s.name not in values for s in CAMERA_SPECS):
        return None
    if values["name"] is None:
        values["name"] = values["id"]
    if values["sub_url"] is not None and values["sub_url"] == values["url"]:
        problems.append(f"{where}: field 'sub_url': is the same as 'url'; fix: give the camera's second (sub) profile, or remove it")
        return None
    if values["webrtc"] == "sub" and not values["sub_url"]:
        problems.append(f"{where}: field 'webrtc': 'sub' needs the camera's sub profile; fix: set sub_url, or webrtc='main'")
        return None
    if values["webrtc_audio"] in ("pcma", "pcmu") and values["audio"] == "copy":
        problems.append(
            f"{where}: field 'webrtc_audio': {values['webrtc_audio']!r} passes G.711 through, but audio='copy' says the "
            "camera sends AAC; fix: webrtc_audio='opus' (or audio='aac' if the camera sends G.711)"
        )
        return None
    if values["password_ref"] and not values["username"]:
        problems.append(f"{where}: field 'username': is required with 'password_ref'; fix: set the camera's user name")
        return None
    return Camera(**values)


def parse_gateway(host: str, raw: Any) -> Gateway:
    """Validate one gateway's camgate data; raise InventoryError listing every problem found."""
    problems: list[str] = []
    values = _read_fields(raw, GATEWAY_SPECS, _where(host), problems, "the gateway")
    cameras: list[Camera] = []
    if values is not None:
        for index, raw_cam in enumerate(values.get("cameras") or ()):
            cam = parse_camera(raw_cam, host, problems, index)
            if cam is not None:
                cameras.append(cam)
        seen: set[str] = set()
        for cam in cameras:
            if cam.id in seen:
                problems.append(
                    f"{_where(host, cam.id)}: field 'id': {cam.id!r} is used by two cameras; fix: give each camera its own id"
                )
            seen.add(cam.id)
        if values.get("domain") is None and "domain" in values:
            values["domain"] = host if _valid_host(host) else None
            if values["domain"] is None:
                problems.append(
                    f"{_where(host)}: field 'domain': is required because the host name {host!r} is not a DNS "
                    "name; fix: set domain='cams.example.com'"
                )
        check_tls_fields(values, host, problems)
        check_port_fields(values, host, problems)
        check_metrics_fields(values, host, problems)
        values["app_users"] = parse_app_users(values.get("app_users") or (), cameras, host, problems)
        values["edges"] = parse_gateway_edges(values, host, problems)
    if problems:
        raise InventoryError(problems)
    assert values is not None
    values["cameras"] = tuple(cameras)
    values["alt_domains"] = tuple(values["alt_domains"])
    for name in ("ssh_allow_from", "metrics_from"):
        values[name] = tuple(str(ipaddress.ip_network(n, strict=False)) for n in values[name])
    return Gateway(host=host, **values)


def parse_edge(raw: Any, where: str, problems: list[str], origins: tuple[Origin, ...] = ()) -> Edge | None:
    """One edge's declaration (as `edge()` makes it), checked field by field."""
    values = _read_fields(raw, EDGE_SPECS, where, problems, "an edge")
    if values is None or any(s.name not in values for s in EDGE_SPECS):
        return None
    if values["domain"] is None:
        values["domain"] = values["host"]
    before = len(problems)
    if values["tls"] == "off":
        problems.append(f"{where}: field 'tls': an edge serves HTTPS only; fix: choose letsencrypt, selfsigned or provided")
    check_tls_fields(values, values["host"], problems)
    check_port_fields(values, values["host"], problems)
    check_metrics_fields(values, values["host"], problems)
    if len(problems) > before:
        return None
    values["alt_domains"] = tuple(values["alt_domains"])
    for name in ("ssh_allow_from", "metrics_from"):
        values[name] = tuple(str(ipaddress.ip_network(n, strict=False)) for n in values[name])
    return Edge(**values, origins=origins)


def parse_gateway_edges(values: dict[str, Any], host: str, problems: list[str]) -> tuple[Edge, ...]:
    """The gateway's edges: each valid, none twice, and the gateway able to serve them (a URL secret
    they can share, HTTPS, an origin port of its own)."""
    raw_edges = values.get("edges") or ()
    edges: list[Edge] = []
    for index, raw in enumerate(raw_edges):
        label = raw.get("host") if isinstance(raw, dict) and isinstance(raw.get("host"), str) else f"#{index + 1}"
        edge = parse_edge(raw, f"{_where(host)} edge {label!r}", problems)
        if edge is None:
            continue
        if edge.host in {e.host for e in edges} or edge.host == host:
            problems.append(f"{_where(host)} edge {edge.host!r}: field 'host': is declared twice (or is the gateway); fix: keep one entry per edge")
            continue
        edges.append(edge)
    if edges:
        where = _where(host)
        if values.get("url_secret_ref") is None and "url_secret_ref" in values:
            problems.append(
                f"{where}: field 'url_secret_ref': is required with edges (they check the same signed URLs); fix: store "
                "a random secret (secrets.token_urlsafe(32)) as e.g. secret:url-signing and set url_secret_ref='secret:url-signing'"
            )
        if values.get("tls") == "off":
            problems.append(f"{where}: field 'edges': edges fetch over HTTPS and tls='off' serves none; fix: choose a TLS mode or remove the edges")
        names = [values.get("domain"), *(values.get("alt_domains") or ())]
        if all(isinstance(name, str) and _is_ip(name) for name in names):
            problems.append(
                f"{where}: field 'alt_domains': edges check the gateway's certificate by DNS name and it has only IP "
                "addresses; fix: add a DNS name (alt_domains=['gw1.example.com']), and origin_address if DNS does not resolve it"
            )
    return tuple(edges)


def parse_edge_host(host: str, raw: Any) -> Edge:
    """An edge host's camgate data (its declaration and the gateways it fronts, from `edges_of`)."""
    problems: list[str] = []
    if not isinstance(raw, dict) or not isinstance(raw.get("origins"), list):
        raise InventoryError([f"host {host!r}: camgate edge data without origins; fix: declare edges with camgate.inventory.edges_of(gateways)"])
    origins = tuple(Origin(**{**o, "cameras": tuple(o["cameras"])}) for o in raw["origins"])
    edge = parse_edge({k: v for k, v in raw.items() if k != "origins"}, _where(host), problems, origins)
    if problems or edge is None:
        raise InventoryError(problems)
    return edge


def parse_app_users(raw_users: Any, cameras: list[Camera], host: str, problems: list[str]) -> tuple[AppUser, ...]:
    users: list[AppUser] = []
    known = {c.id for c in cameras}
    for index, raw in enumerate(raw_users):
        label = raw.get("name") if isinstance(raw, dict) and isinstance(raw.get("name"), str) else f"#{index + 1}"
        where = f"{_where(host)} app user {label!r}"
        values = _read_fields(raw, APP_USER_SPECS, where, problems, "an app user")
        if values is None or any(s.name not in values for s in APP_USER_SPECS):
            continue
        ids = values["cameras"]
        bad = [c for c in ids if not isinstance(c, str) or (c != "*" and c not in known)]
        if bad:
            problems.append(
                f"{where}: field 'cameras': {bad[0]!r} is not a camera of this gateway; fix: use ids from "
                f"{sorted(known) or 'the camera list'} or '*'"
            )
            continue
        if values["name"] in {u.name for u in users}:
            problems.append(f"{where}: field 'name': {values['name']!r} is declared twice; fix: keep one entry per user")
            continue
        users.append(AppUser(values["name"], values["password_ref"], tuple(ids)))
    return tuple(users)


def check_port_fields(values: dict[str, Any], host: str, problems: list[str]) -> None:
    """The gateway's listening ports and port ranges must not overlap (each field alone was checked)."""
    taken: list[tuple[str, int, int]] = []
    for name in ("http_port", "https_port", "turn_port", "turns_port", "metrics_port", "origin_port"):
        if (name == "metrics_port" and not values.get("metrics_from")) or (name == "origin_port" and not values.get("edges")):
            continue  # not listened on
        if isinstance(values.get(name), int):
            taken.append((name, values[name], values[name]))
    for name in ("webrtc_ports", "turn_relay_ports"):
        found = parse_port_range(values[name]) if isinstance(values.get(name), str) else None
        if found:
            taken.append((name, *found))
    for index, (name, low, high) in enumerate(taken):
        for other, other_low, other_high in taken[:index]:
            if low <= other_high and other_low <= high and {name, other} != {"http_port", "https_port"}:
                problems.append(f"{_where(host)}: field {name!r}: overlaps {other!r}; fix: give each its own ports")


def check_metrics_fields(values: dict[str, Any], host: str, problems: list[str]) -> None:
    """A metrics endpoint needs its password: Prometheus's sources alone are not enough."""
    if values.get("metrics_from") and "metrics_password_ref" in values and values["metrics_password_ref"] is None:
        problems.append(
            f"{_where(host)}: field 'metrics_password_ref': is required with metrics_from; fix: store a hash from "
            "`camgate hash-password` as e.g. secret:metrics and set metrics_password_ref='secret:metrics'"
        )


def check_tls_fields(values: dict[str, Any], host: str, problems: list[str]) -> None:
    """Rules that tie the TLS fields together (each field alone was checked already)."""
    where = _where(host)
    mode = values.get("tls")
    if mode == "letsencrypt":
        if values.get("domain") and _is_ip(values["domain"]):
            problems.append(
                f"{where}: field 'domain': {values['domain']!r} is an IP address and ACME CAs only certify DNS "
                "names; fix: set domain='cams.example.com' or tls='selfsigned'"
            )
        elif values.get("acme_server") in (LETSENCRYPT, LETSENCRYPT_STAGING):
            # Let's Encrypt refuses names without a dot ("localhost", "gateway"): fail here, not mid-deploy.
            names = {"domain": [values.get("domain")], "alt_domains": list(values.get("alt_domains") or ())}
            for name, given in names.items():
                single = [n for n in given if isinstance(n, str) and "." not in n]
                if single:
                    problems.append(
                        f"{where}: field {name!r}: {single[0]!r} has no dot and Let's Encrypt only certifies "
                        "fully qualified names; fix: use a name such as 'cams.example.com' or tls='selfsigned'"
                    )
        if "acme_email" in values and values["acme_email"] is None:
            problems.append(
                f"{where}: field 'acme_email': is required with tls='letsencrypt'; fix: set acme_email='you@example.com'"
            )
    if mode == "provided":
        for name in ("tls_certificate", "tls_key"):
            if name in values and values[name] is None:
                problems.append(f"{where}: field {name!r}: is required with tls='provided'; fix: give its path on the gateway")
    elif mode in TLS_MODES:
        for name in ("tls_certificate", "tls_key"):
            if values.get(name) is not None:
                problems.append(f"{where}: field {name!r}: is only used with tls='provided'; fix: remove it or set tls='provided'")
    if values.get("http_port") is not None and values.get("http_port") == values.get("https_port") and mode != "off":
        problems.append(f"{where}: field 'https_port': equals http_port; fix: use two different ports (80 and 443)")
