"""Camera health, computed on the gateway (camgate-health.timer every 10 s, and `camgate status`).

Standard library only: this file is uploaded to /usr/local/lib/camgate/camgate-health, with
camgate/gateway/media.py beside it as camgate_media.py, and run by the host's python3 with the JSON
config the deploy writes (/etc/camgate/health.json):

    {"cameras": [{"id": "front", "unit": "camgate-camera-front.service",
                  "dir": "/run/camgate/hls/front", "playlist": "/run/camgate/hls/front/stream.m3u8",
                  "hls_time": 2,
                  "sub": {"unit": "camgate-camera-front.sub.service", "dir": "/run/camgate/hls/front.sub",
                          "playlist": "/run/camgate/hls/front.sub/stream.m3u8"},
                  "webrtc": {"stream": "main", "status_url": "http://127.0.0.1:8086/status",
                             "media_timeout": 10}}]}

A camera's status is its main stream's; its sub stream (if any) is judged the same way and becomes
the second variant of the multivariant playlist while it is up.

Per camera: its status with the reason, the age of the newest segment, the unit's state, automatic
restarts since boot (systemd's NRestarts), the last line ffmpeg logged that is not known noise, what
was measured (target and mean segment duration, the mean bit rate of the newest segments), and
the EXT-X-STREAM-INF attributes of its stream read from the media itself (the multivariant playlist
GET .../index.m3u8 serves). Status judges what a player would get, not only that files change:

- down: no playlist, or none for STALE_SEGMENTS segment durations (plus STALE_GRACE) while the unit
  is not running (a unit that restarts behind a fresh playlist is judged on what it serves);
- stalled: the unit runs but no new segment came for that long;
- unplayable: the playlist breaks RFC 8216 (target duration 0, a segment over it, durations
  collapsed by broken camera timestamps), or the media is something phones do not decode (MJPEG,
  HEVC tagged hev1, G.711 audio copied into HLS);
- up: none of those.

A camera with webrtc on also gets `webrtc`: up only while the stream camgate-webrtc relays is up and
H.264 and the service got its media within media_timeout (its /status), with the viewer count.

    camgate-health CONFIG.json              print the status as JSON
    camgate-health CONFIG.json --out FILE   write it to FILE atomically (what the timer does)
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
import urllib.request

try:
    from camgate.gateway import media
except ImportError:  # on the gateway: run as a script, with media.py uploaded beside it
    import camgate_media as media  # type: ignore[no-redef]

STALE_SEGMENTS = 3
STALE_GRACE = 2.0  # seconds on top, for the camera's keyframe interval and scheduling
# Lines that say nothing about why a camera is down (the backoff notice repeats the symptom).
NOISE = ("camgate: restart ", "Timestamps are unset in a packet", "Queue input is backward in time", "using insecure memory", "Non-monotonous DTS", "Non-monotonic DTS")
JOURNAL_LINES = 3000
# Sample entries phones and browsers decode (hev1, HEVC's other entry, is refused by Apple's players).
PLAYABLE_VIDEO = {"avc1", "avc3", "hvc1"}
PLAYABLE_AUDIO = {"mp4a"}
MEASURED_SEGMENTS = 6  # recent segments the bit rates are measured over
SEGMENT_HEAD = 64 * 1024  # a segment's moof boxes come first: its head is enough to read its timing
COLLAPSED = 0.25  # a median segment shorter than this share of hls_time: timestamps gone wrong
FFPROBE_TIMEOUT = 20
WEBRTC_STATUS_TIMEOUT = 5


def newest_segment_age(playlist: str, now: float) -> float | None:
    """ffmpeg rewrites the playlist at every new segment: its mtime is the newest segment's."""
    try:
        return max(0.0, now - os.stat(playlist).st_mtime)
    except FileNotFoundError:
        return None


def parse_media_playlist(text: str) -> dict:
    """The parts of an ffmpeg live playlist that decide whether it plays: target duration, EXT-X-MAP,
    whether an EXT-X-KEY applies, and each segment's (URI, EXTINF duration)."""
    playlist: dict = {"target": None, "map": None, "encrypted": False, "segments": []}
    duration = None
    for line in (raw.strip() for raw in text.splitlines()):
        if line.startswith("#EXT-X-TARGETDURATION:"):
            playlist["target"] = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-MAP:") and 'URI="' in line:
            playlist["map"] = line.split('URI="', 1)[1].split('"', 1)[0]
        elif line.startswith("#EXT-X-KEY:"):
            playlist["encrypted"] = "METHOD=NONE" not in line
        elif line.startswith("#EXTINF:"):
            duration = float(line.split(":", 1)[1].split(",", 1)[0])
        elif line and not line.startswith("#") and duration is not None:
            playlist["segments"].append((line, duration))
            duration = None
    return playlist


def playlist_problem(playlist: dict, hls_time: int) -> str | None:
    """Why a player could not follow this live playlist (RFC 8216 4.3.3.1, 6.2.2), or None."""
    segments, target = playlist["segments"], playlist["target"]
    if not segments:
        return "the playlist lists no segment yet"
    if not target:
        return f"EXT-X-TARGETDURATION is {target}: players cannot schedule the playlist"
    longest = max(duration for _, duration in segments)
    if round(longest) > target:
        return f"a segment lasts {longest:.3f} s, over the target duration of {target} s (RFC 8216 4.3.3.1)"
    median = statistics.median(duration for _, duration in segments)
    if median < COLLAPSED * hls_time:
        return (
            f"segment durations collapsed to {median:.3f} s: the camera's timestamps jump or are missing; "
            "fix: timestamps='arrival' for this camera"
        )
    return None


def read_head(path: str, size: int) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(size)


def fmp4_stream(folder: str, playlist: dict) -> tuple[dict, str | None]:
    """(EXT-X-STREAM-INF attributes, what makes it unplayable or None) of an fMP4 stream, from its
    init section and its newest segments."""
    init = media.read_init(read_head(os.path.join(folder, playlist["map"]), 1 << 20))
    video, audio = init.video, init.audio
    if video is None:
        return {}, "the stream has no video track"
    if video.sample_entry not in PLAYABLE_VIDEO:
        return {}, (
            f"video is {video.codec or video.sample_entry}, which players cannot decode; "
            "fix: set the camera's stream to H.264 or H.265"
        )
    if audio is not None and audio.sample_entry not in PLAYABLE_AUDIO:
        return {}, f"audio is {audio.codec or audio.sample_entry}, which HLS cannot carry; fix: audio='aac' or 'none'"
    measured = []
    for uri, _duration in playlist["segments"][-MEASURED_SEGMENTS:]:
        path = os.path.join(folder, uri)
        try:
            measured.append((media.read_segment(read_head(path, SEGMENT_HEAD), init), os.stat(path).st_size))
        except FileNotFoundError:  # deleted between the playlist read and now
            continue
    return media.variant_stream_inf(init, measured, playlist["target"]), None


def ts_stream(folder: str, playlist_path: str, playlist: dict) -> tuple[dict, str | None]:
    """The same for an MPEG-TS stream (cameras with encrypt=True): ffprobe reads it through its local
    keys; the avc1 string comes from the SPS bytes of its extradata."""
    timed = []
    for uri, duration in playlist["segments"][-MEASURED_SEGMENTS:]:
        try:
            timed.append((duration, os.stat(os.path.join(folder, uri)).st_size))
        except FileNotFoundError:  # deleted between the playlist read and now
            continue
    if not timed:
        return {}, "no segment of the playlist is on disk"
    attributes: dict = {
        "BANDWIDTH": media.peak_bit_rate(timed, playlist["target"]),
        "AVERAGE-BANDWIDTH": math.ceil(8 * sum(size for _, size in timed) / sum(duration for duration, _ in timed)),
    }
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-allowed_extensions", "ALL", "-show_streams", "-show_data", "-of", "json", playlist_path],
        capture_output=True, text=True, timeout=FFPROBE_TIMEOUT,
    )  # fmt: skip
    streams = json.loads(result.stdout or "{}").get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None:
        return attributes, "the stream has no readable video"
    if video.get("codec_name") != "h264":
        return attributes, f"video is {video.get('codec_name')} in MPEG-TS (encrypt=True), which phones cannot play; fix: H.264 or encrypt=false"
    codecs = [avc1_from_annexb(extradata_bytes(video.get("extradata", "")))]
    if audio is not None:
        if audio.get("codec_name") != "aac":
            return attributes, f"audio is {audio.get('codec_name')}, which HLS cannot carry; fix: audio='aac' or 'none'"
        codecs.append(f"mp4a.40.{AAC_OBJECT_TYPES.get(audio.get('profile'), 2)}")
    if None not in codecs:
        attributes["CODECS"] = ",".join(codecs)
    attributes["RESOLUTION"] = f"{video['width']}x{video['height']}"
    rate = video.get("avg_frame_rate") or video.get("r_frame_rate") or "0/1"
    numerator, _, denominator = rate.partition("/")
    if float(denominator or 1) and float(numerator):
        attributes["FRAME-RATE"] = f"{media.nominal_frame_rate(float(numerator) / float(denominator or 1)):.3f}"
    return attributes, None


AAC_OBJECT_TYPES = {"LC": 2, "HE-AAC": 5, "HE-AACv2": 29, "LD": 23, "Main": 1}


def extradata_bytes(dump: str) -> bytes:
    """ffprobe's -show_data hex dump ('00000000: 0000 0167 ...  ascii') back to bytes."""
    hexdigits = "".join("".join(line.split(":", 1)[1].strip().split("  ", 1)[0].split()) for line in dump.splitlines() if ":" in line)
    return bytes.fromhex(hexdigits)


def avc1_from_annexb(data: bytes) -> str | None:
    """avc1.PPCCLL from the first SPS (NAL type 7) in Annex B bytes: profile, constraint flags, level."""
    start = data.find(b"\x00\x00\x01")
    while start >= 0 and start + 6 <= len(data):
        if data[start + 3] & 0x1F == 7:
            return "avc1." + data[start + 4 : start + 7].hex()
        start = data.find(b"\x00\x00\x01", start + 3)
    return None


def judge(cam: dict, active: bool, age: float | None, last_error: str | None) -> tuple[str, str | None, dict]:
    """(status, reason, EXT-X-STREAM-INF attributes) of one camera; see the module's docstring."""
    if age is None:
        why = "no playlist yet: the camera has not delivered since its unit started" if active else "the camera's unit is not running"
        return "down", last_error or why, {}
    try:
        with open(cam["playlist"]) as handle:
            playlist = parse_media_playlist(handle.read())
    except (OSError, ValueError) as exc:
        return "down", f"the playlist cannot be read: {exc}", {}
    stale_after = STALE_SEGMENTS * max(cam["hls_time"], playlist["target"] or 0) + STALE_GRACE
    if age > stale_after:
        why = f"no new segment for {age:.0f} s" + (f" ({last_error})" if last_error else "")
        return ("stalled" if active else "down"), why, {}
    # A unit restarting (a timestamp resync, a deploy) behind a fresh playlist still plays: players
    # have the listed segments and the next ones follow within seconds. Judge what they would get.
    problem = playlist_problem(playlist, cam["hls_time"])
    if problem:
        return "unplayable", problem, {}
    init = os.path.join(cam["dir"], playlist["map"]) if playlist["map"] else None
    if init and os.path.exists(init) and os.path.getsize(init) == 0:
        # ffmpeg truncates the init section when it (re)starts and writes it with the first segment
        return "down", "starting: ffmpeg is writing the init section", {}
    try:
        if playlist["map"]:
            attributes, problem = fmp4_stream(cam["dir"], playlist)
        else:
            attributes, problem = ts_stream(cam["dir"], cam["playlist"], playlist)
    except (OSError, ValueError, subprocess.SubprocessError) as exc:  # MediaError is a ValueError
        return "unplayable", f"the stream cannot be read: {exc}", {}
    if problem:
        return "unplayable", problem, attributes
    return "up", None, attributes


def segment_timing(playlist_path: str) -> dict:
    """The live playlist's target duration and its newest segments' mean duration (for the metrics)."""
    try:
        with open(playlist_path) as handle:
            playlist = parse_media_playlist(handle.read())
    except (OSError, ValueError):
        return {}
    durations = [duration for _, duration in playlist["segments"][-MEASURED_SEGMENTS:]]
    timing = {"target_duration": playlist["target"]} if playlist["target"] else {}
    if durations:
        timing["segment_duration"] = round(sum(durations) / len(durations), 3)
    return timing


def unit_states(units: list[str]) -> dict[str, dict[str, str]]:
    """`systemctl show` of several units in one call: {unit: {property: value}}."""
    if not units:
        return {}
    out = subprocess.run(
        ["systemctl", "show", "--property=Id,ActiveState,SubState,NRestarts,ExecMainStatus", *units],
        capture_output=True, text=True, timeout=30,
    ).stdout  # fmt: skip
    states: dict[str, dict[str, str]] = {}
    for block in out.strip().split("\n\n"):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if props.get("Id"):
            states[props["Id"]] = props
    return states


def last_lines(units: list[str]) -> dict[str, str]:
    """The last meaningful line each unit's own processes logged (one journalctl call for all)."""
    if not units:
        return {}
    matches = [item for unit in units for item in ("+", f"_SYSTEMD_UNIT={unit}")][1:]
    result = subprocess.run(
        ["journalctl", "--no-pager", "-o", "json", "-n", str(JOURNAL_LINES), *matches],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    found: dict[str, str] = {}
    for line in result.stdout.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        message = entry.get("MESSAGE")
        if isinstance(message, list):  # journald sends non-UTF-8 messages as byte arrays
            message = bytes(message).decode(errors="replace")
        if message and not any(noise in message for noise in NOISE):
            found[entry.get("_SYSTEMD_UNIT", "")] = message.strip()
    return found


# Where each stream's media playlist is, relative to the camera's multivariant playlist (nginx maps
# .../<camera>/sub/<file> to the sub stream's folder).
VARIANT_URIS = {"main": "stream.m3u8", "sub": "sub/stream.m3u8"}


def status(config: dict, now: float | None = None) -> dict:
    now = time.time() if now is None else now
    cameras = config.get("cameras", [])
    streams = {"main": cameras, "sub": [{**c["sub"], "hls_time": c["hls_time"]} for c in cameras if c.get("sub")]}
    units = [s["unit"] for group in streams.values() for s in group]
    states = unit_states(units)
    lines = last_lines(units)

    def judged(stream: dict) -> dict:
        state = states.get(stream["unit"], {})
        age = newest_segment_age(stream["playlist"], now)
        last_error = lines.get(stream["unit"])
        verdict, reason, attributes = judge(stream, state.get("ActiveState") == "active", age, last_error)
        measured = segment_timing(stream["playlist"]) if age is not None else {}
        if attributes.get("AVERAGE-BANDWIDTH"):
            measured["bitrate"] = attributes["AVERAGE-BANDWIDTH"]
        return {
            "up": verdict == "up",
            "status": verdict,
            "reason": reason,
            "newest_segment_age": None if age is None else round(age, 1),
            "state": f"{state.get('ActiveState', 'unknown')}/{state.get('SubState', 'unknown')}",
            "restarts": int(state.get("NRestarts") or 0),
            "last_error": last_error,
            "measured": measured,
            "attributes": attributes,
        }

    report = {"generated": round(now, 3), "cameras": {}}
    signalling = webrtc_status(cameras)
    for cam in cameras:
        main = judged(cam)
        sub = judged({**cam["sub"], "hls_time": cam["hls_time"]}) if cam.get("sub") else None
        if cam.get("webrtc"):
            relayed = sub if cam["webrtc"]["stream"] == "sub" else main
            main["webrtc"] = judge_webrtc(cam["id"], cam["webrtc"], relayed, signalling)
        variants = [(VARIANT_URIS[name], judgement.pop("attributes")) for name, judgement in (("main", main), ("sub", sub))
                    if judgement is not None and judgement["up"]]  # fmt: skip
        main.pop("attributes", None)
        if sub is not None:
            sub.pop("attributes", None)
            main["sub"] = {k: sub[k] for k in ("up", "status", "reason", "newest_segment_age", "restarts", "measured")}
        # The main stream decides whether the camera is up; a live sub stream still plays while it is not.
        main["multivariant"] = media.multivariant_playlist(variants) if variants else None
        report["cameras"][cam["id"]] = main
    return report


def webrtc_status(cameras: list[dict]) -> dict | None:
    """camgate-webrtc's /status (viewers, the age of each camera's media there), None when it does not answer."""
    urls = {c["webrtc"]["status_url"] for c in cameras if c.get("webrtc")}
    if not urls:
        return None
    try:
        with urllib.request.urlopen(urls.pop(), timeout=WEBRTC_STATUS_TIMEOUT) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return None


def judge_webrtc(camera_id: str, settings: dict, relayed: dict | None, signalling: dict | None) -> dict:
    """Whether a WebRTC viewer would see this camera now: the stream camgate-webrtc relays is up and
    H.264, and the service got its media within media_timeout."""
    viewers = (signalling or {}).get("cameras", {}).get(camera_id, 0)

    def verdict(status: str, reason: str | None) -> dict:
        return {"up": status == "up", "status": status, "reason": reason, "viewers": viewers}

    if relayed is None or not relayed["up"]:
        return verdict("down", f"its {settings['stream']} stream is not up")
    codecs = (relayed.get("attributes") or {}).get("CODECS", "")
    if codecs and not codecs.startswith(("avc1", "avc3")):
        return verdict("unplayable", f"WebRTC carries H.264 and this stream is {codecs.split(',')[0]}; fix: webrtc='sub' with an H.264 sub profile, or video='transcode'")
    ages = (signalling or {}).get("media_age_ms")
    if ages is None:
        return verdict("down", "the WebRTC service (camgate-webrtc) is not answering")
    age = ages.get(camera_id)
    if age is None or age > settings["media_timeout"] * 1000:
        return verdict("down", "no media reached the WebRTC service" + (f" for {age / 1000:.0f} s" if age is not None else ""))
    return verdict("up", None)


def write_atomically(path: str, text: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as out:
        out.write(text)
    os.chmod(tmp, 0o640)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 3) or (len(args) == 3 and args[1] != "--out"):
        print("usage: camgate-health CONFIG.json [--out FILE]", file=sys.stderr)
        return 2
    with open(args[0]) as handle:
        report = json.dumps(status(json.load(handle)), indent=1)
    if len(args) == 3:
        write_atomically(args[2], report + "\n")
    else:
        print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
