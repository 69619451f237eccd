"""The ffmpeg command line for one camera, and the version-dependent choices behind it.

Pure functions: the roles call them with facts read from the host, the unit tests call them with
the versions of every supported distribution.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from camgate import webrtc
from camgate.model import Camera

RTSP_URL_PLACEHOLDER = "@RTSP_URL@"
PLAYLIST_NAME = "stream.m3u8"
# Live segments are fMP4 (CMAF) with an init section, what Apple's HLS spec requires for HEVC and
# allows for H.264. A camera with encrypt=True stays on MPEG-TS: ffmpeg's HLS muxer cannot encrypt
# fMP4 ("Encrypted fmp4 not yet supported", still so in ffmpeg 8), and AES-128 needs the segment
# encrypted whole.
INIT_NAME = "init.mp4"
FMP4_SEGMENT_PATTERN = "seg-%d.m4s"
TS_SEGMENT_PATTERN = "seg-%d.ts"
# With encrypt=True: camgate-hls-key keeps this file pointing at the newest key (URI, path); ffmpeg
# re-reads it at every segment (periodic_rekey), so a new key applies from the next segment on.
KEY_INFO_NAME = "keyinfo.txt"
# Decoding only keyframes leaves ffmpeg's stream probing without the frames it counts, so it would
# read for the whole default analyzeduration (5 s) before the first segment: measured 5.3 s to the
# first playlist, 1.2 s with 1 s of analysis (the same as copying alone). RTSP's SDP already names
# every stream and codec; the snapshot's filter takes its picture format from the first keyframe.
KEYFRAMES_ONLY = ["-skip_frame:v", "nokey", "-analyzeduration", "1000000"]
# The camera's still for the app's grid (GET .../snapshot.jpg), refreshed at most this often.
SNAPSHOT_NAME = "snapshot.jpg"
SNAPSHOT_SECONDS = 5
SNAPSHOT_QUALITY = 5  # mjpeg -q:v: 2 (best) to 31
# Recording files: UTC start time in the name (strftime), e.g. 20261125T124500Z.mp4. Fragmented MP4
# (one fragment per keyframe interval), so HEVC recordings play on iPhones as live does; the
# playback playlist addresses each file's init section and fragments by byte range.
RECORDING_PATTERN = "%Y%m%dT%H%M%SZ.mp4"
# frag_discont: each file's fragments carry the stream's own timestamps (tfdt), so consecutive files
# continue each other and the playback playlist needs no discontinuity between them; delay_moov: the
# init section is written once the first fragment is known (no edit-list warning per file).
RECORDING_MOVFLAGS = "+frag_keyframe+delay_moov+default_base_moof+frag_discont"

# ffmpeg shipped by each release we support, for a first deploy where ffmpeg is not installed yet.
DISTRO_FFMPEG_MAJOR = {
    ("debian", "11"): 4,
    ("debian", "12"): 5,
    ("debian", "13"): 7,
    ("ubuntu", "20.04"): 4,
    ("ubuntu", "22.04"): 4,
    ("ubuntu", "24.04"): 6,
}
NEWEST_KNOWN_MAJOR = 7

# Flags every live stream needs (docs/architecture.md, "ffmpeg"):
# - delete_segments: tmpfs stays small;
# - append_list: a restarted ffmpeg keeps counting media sequence numbers and marks a discontinuity;
# - temp_file: nginx never serves a half-written segment;
# - omit_endlist: a camera that drops out does not end the stream for players that are watching;
# - program_date_time / independent_segments: wall-clock tags and keyframe-aligned segments for players.
HLS_FLAGS = ("delete_segments", "append_list", "temp_file", "omit_endlist", "program_date_time", "independent_segments")


def ffmpeg_major_from_deb_version(version: str) -> int | None:
    """'7:5.1.6-0+deb12u1' -> 5; '4.4.2-0ubuntu0.22.04.1' -> 4."""
    match = re.match(r"^(?:\d+:)?(\d+)\.", version or "")
    return int(match.group(1)) if match else None


def ffmpeg_major_from_version_line(line: str) -> int:
    """'ffprobe version 5.1.6-0+deb12u1 Copyright ...' -> 5 (the newest known when unreadable)."""
    match = re.search(r"version n?(\d+)\.", line or "")
    return int(match.group(1)) if match else NEWEST_KNOWN_MAJOR


def ffmpeg_major(installed_version: str | None, distro_id: str | None, distro_release: str | None) -> int:
    """The ffmpeg major version the unit will run with: the installed one, else the distribution's."""
    if installed_version:
        major = ffmpeg_major_from_deb_version(installed_version)
        if major:
            return major
    key = ((distro_id or "").lower(), str(distro_release or ""))
    if key in DISTRO_FFMPEG_MAJOR:
        return DISTRO_FFMPEG_MAJOR[key]
    if key[0] == "debian" and key[1].split(".")[0].isdigit():
        # Point releases ("12.8") share their major's ffmpeg.
        return DISTRO_FFMPEG_MAJOR.get(("debian", key[1].split(".")[0]), NEWEST_KNOWN_MAJOR)
    return NEWEST_KNOWN_MAJOR


def socket_timeout_option(major: int) -> str:
    """ffmpeg 5 renamed the RTSP socket timeout: 4.x knows only -stimeout, 5+ rejects it."""
    return "-stimeout" if major < 5 else "-timeout"


# Transcoded audio: mono AAC at 16 kHz. ffmpeg's AAC encoder caps a frame at 6144 bits per channel,
# i.e. 48 kbit/s at the 8 kHz of G.711 ("Too many bits ... clamping" on every frame at 64k); resampled
# to 16 kHz every camera's input (8 kHz G.711 to 48 kHz AAC) encodes within the cap. Voice range.
AAC_ARGS = ["-c:a", "aac", "-ac", "1", "-ar", "16000", "-b:a", "48k"]


# video="transcode" (MJPEG/MPEG-4 cameras): H.264 for every player, a keyframe at every segment
# boundary. One thread: a camera's encoder must not take a gateway's every core. Measured cost per
# camera at 25 fps on the CI machine kind (bench/transcode.py): see TRANSCODE_CPU.
def video_args(camera: Camera) -> list[str]:
    if camera.video == "transcode":
        return [
            "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-crf", "23", "-pix_fmt", "yuv420p",
            "-threads", "1", "-force_key_frames", f"expr:gte(t,n_forced*{camera.hls_time})",
        ]  # fmt: skip
    # HEVC in fMP4 as Apple requires it (hvc1 sample entry, not hev1); H.264 keeps avc1.
    return ["-c:v", "copy", "-tag:v", "hvc1"]


# Copied audio: every frame. ffmpeg's stream copy starts a stream at its first key packet, and
# ffmpeg 7.1's RTP depacketizers (Debian 13) flag no AAC packet as key (5.1's flag every one), so
# without -copyinkf 7.1 copied no audio at all: fMP4 segments with an audio track in their init
# section and none in their fragments, which hls.js/MSE cannot buffer. Every AAC and G.711 frame
# decodes on its own, so copying from the first one is right on every version (5.1 knows it too).
AUDIO_COPY_ARGS = ["-c:a", "copy", "-copyinkf:a"]


def audio_args(audio: str) -> list[str]:
    if audio == "copy":
        return list(AUDIO_COPY_ARGS)
    if audio == "aac":
        return list(AAC_ARGS)
    return ["-an"]


def segment_type(camera: Camera) -> str:
    return "mpegts" if camera.encrypt else "fmp4"


def hls_options(camera: Camera, hls_dir: str) -> list[tuple[str, str]]:
    flags = HLS_FLAGS + (("periodic_rekey",) if camera.encrypt else ())
    options = [
        ("hls_time", str(camera.hls_time)),
        ("hls_list_size", str(camera.hls_list_size)),
        ("hls_flags", "+".join(flags)),
        ("hls_segment_type", segment_type(camera)),
        # A first run numbers its segments from the Unix time (append_list goes on from the playlist
        # after that): a camera whose folder was emptied never reuses a segment name, which a
        # player's or an edge's cache could still hold (docs/edges.md).
        ("hls_start_number_source", "epoch"),
    ]
    if camera.encrypt:
        options.append(("hls_key_info_file", f"{hls_dir}/{KEY_INFO_NAME}"))
        options.append(("hls_segment_filename", f"{hls_dir}/{TS_SEGMENT_PATTERN}"))
    else:
        # A name, not a path: ffmpeg writes it beside the playlist and EXT-X-MAP names it as given.
        options.append(("hls_fmp4_init_filename", INIT_NAME))
        options.append(("hls_segment_filename", f"{hls_dir}/{FMP4_SEGMENT_PATTERN}"))
    return options


def recording_options(camera: Camera) -> list[tuple[str, str]]:
    """The segment muxer writing recording files named by their UTC start (the unit sets TZ=UTC),
    cut at keyframes on wall-clock multiples of record_segment. Fragmented MP4: a file cut short by
    a crash stays playable up to its last whole fragment (one keyframe interval)."""
    return [
        ("segment_time", str(camera.record_segment)),
        ("segment_atclocktime", "1"),
        ("strftime", "1"),
        ("segment_format", "mp4"),
        ("segment_format_options", f"movflags={RECORDING_MOVFLAGS}"),
    ]


def tee_slave(format_name: str, options: list[tuple[str, str]], target: str, extra: str = "") -> str:
    # Inside a tee slave spec, ':' separates options and '\\' escapes; camgate paths never hold either.
    spec = ":".join([f"f={format_name}", *(f"{k}={v}" for k, v in options), *([extra] if extra else [])])
    return f"[{spec}]{target}"


def snapshot_output(hls_dir: str, major: int) -> list[str]:
    """A JPEG of the picture at most every SNAPSHOT_SECONDS, from keyframes only (the input decodes
    nothing else: -skip_frame nokey), replaced atomically so nginx never serves half a file.
    yuv420p with `-strict unofficial`: no range conversion, so no per-frame swscaler warning."""
    every = f"select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,{SNAPSHOT_SECONDS})',format=yuv420p"
    return [
        "-map", "0:v:0", "-vf", every, *frame_rate_passthrough(major),
        "-c:v", "mjpeg", "-q:v", str(SNAPSHOT_QUALITY), "-strict", "unofficial",
        "-f", "image2", "-update", "1", "-atomic_writing", "1", f"{hls_dir}/{SNAPSHOT_NAME}",
    ]  # fmt: skip


def frame_rate_passthrough(major: int) -> list[str]:
    """ffmpeg 5.1 replaced -vsync with -fps_mode; 4.x knows only -vsync."""
    return ["-fps_mode", "passthrough"] if major >= 5 else ["-vsync", "passthrough"]


def webrtc_slaves(camera: Camera, port: int) -> list[str]:
    """Tee slaves sending RTP to camgate-webrtc's loopback ports: video (copied, parameter sets repeated before
    every keyframe so a viewer can start at any of them) to `port`, audio to `port` + 2. onfail=ignore:
    a WebRTC failure never stops live HLS or recording."""
    rtp = f"?pkt_size={webrtc.RTP_PACKET_SIZE}"
    slaves = [tee_slave("rtp", [("payload_type", str(webrtc.VIDEO_PT))], f"rtp://{webrtc.RTP_HOST}:{port}{rtp}",
                        extra="select=v:bsfs/v=dump_extra:onfail=ignore")]  # fmt: skip
    codec = webrtc.audio_codec(camera)
    if codec:
        payload = str(webrtc.AUDIO_PAYLOAD_TYPES[codec])
        slaves.append(tee_slave("rtp", [("payload_type", payload)], f"rtp://{webrtc.RTP_HOST}:{port + 2}{rtp}", extra="select=a:onfail=ignore"))
    return slaves


def webrtc_output(camera: Camera, port: int) -> list[str]:
    """An output of its own for camgate-webrtc, from the copied input: its audio is encoded for WebRTC (Opus,
    or G.711 copied), whatever the HLS output does with audio. Video and audio go through one tee so
    that a camera without audio still has an output with a stream (the audio slave then fails alone)."""
    maps = ["-map", "0:v:0"] + (["-map", "0:a:0?"] if webrtc.audio_codec(camera) else [])
    return [*maps, "-c:v", "copy", *webrtc.audio_args(camera), "-f", "tee", "|".join(webrtc_slaves(camera, port))]


def camera_args(
    camera: Camera, hls_dir: str, major: int, recordings_dir: str | None = None, snapshot: bool = False,
    webrtc_port: int | None = None,
) -> list[str]:
    """Full argv (ffmpeg first) that turns the camera's RTSP stream into live HLS in hls_dir and, with
    record=True, into recording files in recordings_dir from the same pull (one camera connection);
    with snapshot=True also a JPEG still in hls_dir (snapshot_output); with webrtc_port, RTP for
    camgate-webrtc on that loopback port (webrtc_output; a transcoded camera's video joins the HLS tee instead,
    so it is encoded once, and goes without audio).

    Recording goes through the tee muxer: audio is encoded once for both outputs, and the recording
    output runs behind its own FIFO with onfail=ignore, so a full or failing disk never stalls live.
    The input URL is the placeholder RTSP_URL_PLACEHOLDER; the launcher on the host replaces it with
    the URL carrying the credentials, so they never appear in the unit file.
    """
    maps = ["-map", "0:v:0"] + ([] if camera.audio == "none" else ["-map", "0:a:0?"])
    head = [
        "/usr/bin/ffmpeg",
        "-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning",
        # Overwrite: a restarted unit finds its snapshot.jpg still there (RuntimeDirectoryPreserve),
        # and ffmpeg would refuse to start rather than replace it.
        "-y",
        "-rtsp_transport", camera.transport,
        socket_timeout_option(major), str(camera.rtsp_timeout * 1_000_000),
        # Decode keyframes only, and only for the snapshot, while the other outputs copy video.
        *(KEYFRAMES_ONLY if snapshot and camera.video == "copy" else []),
        "-i", RTSP_URL_PLACEHOLDER,
        *maps,
        *video_args(camera),
        *audio_args(camera.audio),
    ]  # fmt: skip
    playlist = f"{hls_dir}/{PLAYLIST_NAME}"
    still = snapshot_output(hls_dir, major) if snapshot else []
    recording = camera.record and recordings_dir is not None
    shared_encoder = webrtc_port is not None and camera.video == "transcode"
    extra = webrtc_output(camera, webrtc_port) if webrtc_port is not None and not shared_encoder else []
    if not recording and not shared_encoder:
        live = [arg for key, value in hls_options(camera, hls_dir) for arg in (f"-{key}", value)]
        return [*head, "-f", "hls", *live, playlist, *still, *extra]
    slaves = [tee_slave("hls", hls_options(camera, hls_dir), playlist)]
    if recording:
        slaves.append(tee_slave("segment", recording_options(camera), f"{recordings_dir}/{RECORDING_PATTERN}",
                                extra="onfail=ignore:use_fifo=1"))  # fmt: skip
    if shared_encoder:
        slaves += webrtc_slaves(camera, webrtc_port)
    return [*head, "-f", "tee", "|".join(slaves), *still, *extra]


def input_url(camera: Camera, password: str | None, url: str | None = None) -> str:
    """The camera URL (or another of its URLs, the sub stream's) with percent-encoded credentials, as
    ffmpeg reads it (from the credentials file)."""
    url = url or camera.url
    if not camera.username:
        return url
    scheme, rest = url.split("://", 1)
    userinfo = quote(camera.username, safe="")
    if password is not None:
        userinfo += ":" + quote(password, safe="")
    return f"{scheme}://{userinfo}@{rest}"
