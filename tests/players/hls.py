"""Reading live HLS playlists (the tests, and later `camgate verify`/`status`, share this)."""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"


@dataclass
class Segment:
    uri: str
    duration: float
    discontinuity: bool = False


@dataclass
class Playlist:
    media_sequence: int = 0
    target_duration: int = 0
    segments: list[Segment] = field(default_factory=list)
    ended: bool = False
    map_uri: str | None = None  # EXT-X-MAP: the fMP4 init section
    # A multivariant playlist: (attributes of its EXT-X-STREAM-INF, URI) per variant, no segments.
    variants: list[tuple[dict[str, str], str]] = field(default_factory=list)


class PlaylistError(ValueError):
    pass


def parse_playlist(text: str) -> Playlist:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != "#EXTM3U":
        raise PlaylistError("not an HLS playlist: first line is not #EXTM3U")
    playlist = Playlist()
    duration: float | None = None
    discontinuity = False
    stream_inf: dict[str, str] | None = None
    for line in lines[1:]:
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            playlist.media_sequence = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-TARGETDURATION:"):
            playlist.target_duration = int(line.split(":", 1)[1])
        elif line.startswith("#EXTINF:"):
            duration = float(line.split(":", 1)[1].split(",", 1)[0])
        elif line.startswith("#EXT-X-STREAM-INF:"):
            stream_inf = attribute_list(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-MAP:"):
            playlist.map_uri = line.split('URI="', 1)[1].split('"', 1)[0]
        elif line == "#EXT-X-DISCONTINUITY":
            discontinuity = True
        elif line == "#EXT-X-ENDLIST":
            playlist.ended = True
        elif not line.startswith("#") and stream_inf is not None:
            playlist.variants.append((stream_inf, line))
            stream_inf = None
        elif not line.startswith("#"):
            if duration is None:
                raise PlaylistError(f"segment {line!r} has no #EXTINF")
            playlist.segments.append(Segment(line, duration, discontinuity))
            duration, discontinuity = None, False
    return playlist


def attribute_list(text: str) -> dict[str, str]:
    """RFC 8216 4.2 attribute list: NAME=value pairs, quoted-strings may hold commas (quotes kept off)."""
    found = re.findall(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', text)
    return {name: value.strip('"') for name, value in found}


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class _HTTPSConnectionTo(http.client.HTTPSConnection):
    """HTTPS to a fixed address while SNI, certificate check and Host header use the URL's name."""

    def __init__(self, address: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _HTTPConnectionTo(http.client.HTTPConnection):
    def __init__(self, address: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


@dataclass
class Client:
    """How a test or the CLI reaches a gateway: optionally at a fixed address whatever DNS says (like
    curl --resolve) and trusting a given CA file. Certificates are always verified. Redirects are
    returned, not followed."""

    connect_to: str | None = None
    cafile: str | None = None
    timeout: float = 5.0

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cafile)

    def connection(self, url: str) -> http.client.HTTPConnection:
        parts = urlsplit(url)
        host = parts.hostname or ""
        address = self.connect_to or host
        if parts.scheme == "https":
            return _HTTPSConnectionTo(address, host, parts.port or 443, timeout=self.timeout, context=self.ssl_context())
        return _HTTPConnectionTo(address, host, parts.port or 80, timeout=self.timeout)

    def fetch(self, url: str, method: str = "GET", headers: dict[str, str] | None = None, body: bytes | None = None) -> Response:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn = self.connection(url)
        try:
            conn.request(method, path or "/", body=body, headers=headers or {})
            resp = conn.getresponse()
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            conn.close()

    def peer_certificate(self, url: str) -> dict:
        """The verified certificate the server presents for the URL's name (ssl.getpeercert())."""
        conn = self.connection(url)
        try:
            conn.connect()
            return conn.sock.getpeercert()  # type: ignore[union-attr]
        finally:
            conn.close()

    def wait_for_playlist(self, url: str, timeout: float) -> tuple[Response, Playlist]:
        """Poll until the playlist answers 200 with at least one segment (a camera unit just started),
        or, for a multivariant playlist, with at least one variant."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                resp = self.fetch(url)
                if resp.status == 200:
                    playlist = parse_playlist(resp.body.decode())
                    if playlist.segments or playlist.variants:
                        return resp, playlist
                last = f"HTTP {resp.status}"
            except (OSError, PlaylistError) as exc:
                last = str(exc)
            time.sleep(0.5)
        raise TimeoutError(f"{url}: no live playlist within {timeout:.0f} s (last: {last})")

    def wait_for_sequence_advance(self, url: str, start: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            resp = self.fetch(url)
            if resp.status == 200:
                seq = parse_playlist(resp.body.decode()).media_sequence
                if seq > start:
                    return seq
            time.sleep(0.5)
        raise TimeoutError(f"{url}: media sequence stayed at {start} for {timeout:.0f} s")


def segment_url(playlist_url: str, segment: Segment | str) -> str:
    return urljoin(playlist_url, segment if isinstance(segment, str) else segment.uri)


def probe_video(path: str) -> dict:
    """ffprobe's view of the first video stream of a media file ({} when it cannot read one)."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=codec_name,width,height", "-of", "json", path],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    if result.returncode != 0:
        return {}
    return (json.loads(result.stdout).get("streams") or [{}])[0]


def rfc8216_problems(text: str, live: bool = True) -> list[str]:
    """What a playlist breaks of RFC 8216 (and of Apple's authoring spec where phones need it):
    media playlists: EXT-X-TARGETDURATION present and >= 1, every EXTINF rounded <= it (4.3.3.1), a
    live playlist listing >= 3 target durations (6.2.2), fMP4 segments with an EXT-X-MAP, and the
    EXT-X-VERSION that EXT-X-MAP and EXT-X-BYTERANGE need (7);
    multivariant playlists: every EXT-X-STREAM-INF with BANDWIDTH (4.3.4.2), CODECS, RESOLUTION and
    FRAME-RATE (Apple 9.1, 9.2, 9.15) and a URI after it. [] when it keeps them all."""
    playlist = parse_playlist(text)
    problems: list[str] = []
    if playlist.variants:
        for attributes, uri in playlist.variants:
            if not attributes.get("BANDWIDTH", "").isdigit():
                problems.append(f"{uri}: no integer BANDWIDTH")
            for name in ("CODECS", "RESOLUTION", "FRAME-RATE"):
                if not attributes.get(name):
                    problems.append(f"{uri}: no {name}")
            if attributes.get("RESOLUTION") and not re.fullmatch(r"\d+x\d+", attributes["RESOLUTION"]):
                problems.append(f"{uri}: RESOLUTION {attributes['RESOLUTION']!r} is not WxH")
        return problems
    target = playlist.target_duration
    if target < 1:
        problems.append(f"EXT-X-TARGETDURATION is {target}")
    for segment in playlist.segments:
        if round(segment.duration) > target:
            problems.append(f"{segment.uri}: EXTINF {segment.duration} rounds over the target duration {target}")
    if live and target >= 1 and sum(s.duration for s in playlist.segments) < 3 * target:
        problems.append(f"the live playlist lists {sum(s.duration for s in playlist.segments):.3f} s, under 3 target durations")
    if any(s.uri.endswith((".m4s", ".mp4")) for s in playlist.segments) and not playlist.map_uri:
        problems.append("fMP4 segments without EXT-X-MAP")
    version = int((re.search(r"^#EXT-X-VERSION:(\d+)$", text, re.M) or [0, 1])[1])
    if playlist.map_uri and version < 6:  # 7: EXT-X-MAP in a playlist of media segments needs version 6
        problems.append(f"EXT-X-MAP needs EXT-X-VERSION 6 or more, not {version}")
    if "#EXT-X-BYTERANGE:" in text and version < 4:  # 7: byte ranges need version 4
        problems.append(f"EXT-X-BYTERANGE needs EXT-X-VERSION 4 or more, not {version}")
    return problems


def independent_problems(text: str, live: bool = True) -> list[str]:
    """rfc8216_problems' rules as read by another parser (PyPI m3u8), and where the two parsers
    disagree on what the playlist says: camgate's parser alone does not judge camgate's playlists."""
    import m3u8

    theirs, ours = m3u8.loads(text), parse_playlist(text)
    problems: list[str] = []
    if theirs.is_variant:
        for variant in theirs.playlists:
            info = variant.stream_info
            missing = [name for name, value in (("BANDWIDTH", info.bandwidth), ("CODECS", info.codecs), ("RESOLUTION", info.resolution),
                                                ("FRAME-RATE", info.frame_rate)) if not value]  # fmt: skip
            problems += [f"m3u8: {variant.uri}: no {name}" for name in missing]
        if [v.uri for v in theirs.playlists] != [uri for _, uri in ours.variants]:
            problems.append(f"m3u8 reads the variants {[v.uri for v in theirs.playlists]}, camgate's parser {[uri for _, uri in ours.variants]}")
        return problems
    target = theirs.target_duration or 0
    if target < 1:
        problems.append(f"m3u8: EXT-X-TARGETDURATION is {theirs.target_duration}")
    problems += [f"m3u8: {s.uri}: EXTINF {s.duration} rounds over {target}" for s in theirs.segments if round(s.duration) > target]
    if live and target >= 1 and sum(s.duration for s in theirs.segments) < 3 * target:
        problems.append("m3u8: the live playlist lists under 3 target durations")
    if any(s.uri.endswith((".m4s", ".mp4")) and s.init_section is None for s in theirs.segments):
        problems.append("m3u8: fMP4 segments without EXT-X-MAP")
    if theirs.segment_map and int(theirs.version or 1) < 6:
        problems.append(f"m3u8: EXT-X-MAP with EXT-X-VERSION {theirs.version}")
    if ([(s.uri, s.duration, s.discontinuity) for s in theirs.segments] != [(s.uri, s.duration, s.discontinuity) for s in ours.segments]
            or (theirs.media_sequence or 0) != ours.media_sequence or target != ours.target_duration):  # fmt: skip
        problems.append("m3u8 and camgate's parser read different segments, media sequence or target duration")
    return problems


def playlist_problems(text: str, live: bool = True) -> list[str]:
    """Both readings of a playlist: camgate's own (rfc8216_problems) and an independent one."""
    return rfc8216_problems(text, live) + independent_problems(text, live)


def sequence_numbers(playlist: Playlist) -> dict[str, int]:
    """{segment URI: its media sequence number} (RFC 8216 6.3.5: the first is EXT-X-MEDIA-SEQUENCE)."""
    return {segment.uri: playlist.media_sequence + n for n, segment in enumerate(playlist.segments)}


def renumbered(earlier: Playlist, later: Playlist) -> list[str]:
    """Segments two loads of one live playlist give different media sequence numbers, which RFC 8216
    6.2.2 forbids and players reject (hls.js: "media sequence mismatch"). [] when none."""
    before, after = sequence_numbers(earlier), sequence_numbers(later)
    return [f"{uri}: {before[uri]} then {after[uri]}" for uri in before.keys() & after.keys() if before[uri] != after[uri]]
