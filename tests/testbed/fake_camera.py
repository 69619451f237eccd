#!/usr/bin/python3
"""A fake IP camera: one GStreamer RTSP server process serving one camera's stream(s).

Run with Debian's /usr/bin/python3 (it needs the system `gi` bindings):

    CAMGATE_CAMERA_PASSWORD=secret /usr/bin/python3 fake_camera.py \\
        --address 10.231.0.1 --port 8556 --mount /cam3 --user viewer [--auth-method digest] \\
        [--kind h265-pcma] [--sub]

The password never goes on the command line (argv is world-readable): it comes from the
environment variable CAMGATE_CAMERA_PASSWORD or from a file named by --password-file (mode 0600).
With --user the server requires RTSP auth (basic, or digest with --auth-method digest) and answers
401 without it.

--kind picks what the camera sends, as real sites have them (tests/testbed/zoo.py says what a
gateway should see from each):

    h264-aac        H.264 640x360 25 fps, 1 s GOP, ~1 Mbit/s + AAC 48 kHz mono (the default)
    h264-pcma       the same video + G.711 A-law 8 kHz mono
    h264-pcmu       the same video + G.711 mu-law 8 kHz mono
    h264-720p-gop4  H.264 1280x720 25 fps, a keyframe every 4 s, ~2 Mbit/s, no audio
    h265-aac        H.265 640x360 25 fps, 1 s GOP, ~700 kbit/s + AAC
    h265-pcma       H.265 as above + G.711 A-law
    mjpeg           Motion JPEG 640x360 25 fps (every frame a keyframe), no audio
    h264-jumping    h264-aac whose timestamps jump back by JUMP_BACK_S every JUMP_EVERY_S of
                    stream time (a camera-side encoder restart or clock step), while it keeps streaming

--encoder-settings FILE makes the encoder configurable, as over ONVIF: FILE is the state file of
onvif_device.py (its profiles' stream URIs and GOP lengths). A mount whose URL is a profile's uses
that profile's codec, picture size and GOP length; when they change, the camera restarts its encoder
as real ones do: every RTSP client is disconnected, and the next one gets the new stream (it prints
"ENCODER <mount> <gop> <codec> <W>x<H>").

--sub also serves <mount>-sub from the same process: the same picture, smaller (see SUB_SIZES) and
at ~256 kbit/s, in the main stream's codecs, like a camera's second profile.

Video: videotestsrc (live) -> a QR code at the top left (debugqroverlay; see CLOCK_QR) holding the
frame's timestamp (JSON, "TIMESTAMP": running time in ns), so no
two frames are alike and a frame can be recognised downstream -> encoder. Audio: audiotestsrc (live
sine) -> encoder. The media is shared, so several clients read one encoder; it is built when the
first client asks for it. Prints "READY rtsp://..." on stdout once listening, and once a mount's
media runs, "CLOCK <mount> <ms>": the Unix time in milliseconds of that media's running time 0, so
a viewer's picture can be compared with the camera's clock (glass-to-glass latency: the time a frame
is displayed minus CLOCK + TIMESTAMP).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

PASSWORD_ENV = "CAMGATE_CAMERA_PASSWORD"
PATTERNS = ("smpte", "ball", "pinwheel", "spokes", "circular", "zone-plate", "gamut", "bar", "colors")
AAC_ENCODERS = ("avenc_aac", "voaacenc", "fdkaacenc")
FRAMERATE = 25
# The H.265 cameras run at 15 fps, as many sites set them to save storage (and x265 is the costliest
# encoder of the zoo: three of them at 25 fps took a core of the 2-core test machine).
HEVC_FRAMERATE = 15
SUB_BITRATE_KBPS = 256
SUB_MJPEG_QUALITY = 40
# The sub profile's picture for a main picture size: 16:9, both sides multiples of 8 (RTP/JPEG
# carries width and height in units of 8 pixels).
SUB_SIZES = {(640, 360): (384, 216), (1280, 720): (640, 360)}
# The timestamp QR code: its element's name in the pipeline, and its module size in pixels (read
# back from every frame of the encoded main and sub pictures by jsQR).
CLOCK_QR = "clock"
CLOCK_QR_PIXELS = 2
# Frames over which the CLOCK line's offset is taken (the smallest wall-minus-timestamp seen).
CLOCK_FRAMES = 25
# How often --encoder-settings is read for a change.
SETTINGS_POLL_MS = 500
# h264-jumping: how far back the timestamps go, and how often (in stream time).
JUMP_BACK_S = 5
JUMP_EVERY_S = 15


@dataclass(frozen=True)
class Kind:
    video: str  # h264, h265, mjpeg
    width: int
    height: int
    gop_frames: int  # keyframe interval in frames (MJPEG: every frame)
    video_kbps: int  # encoder bitrate (H.264/H.265); MJPEG uses mjpeg_quality
    audio: str | None  # aac, pcma, pcmu or None
    jumping: bool = False
    mjpeg_quality: int = 50
    framerate: int = FRAMERATE


KINDS = {
    "h264-aac": Kind("h264", 640, 360, FRAMERATE, 1000, "aac"),
    "h264-pcma": Kind("h264", 640, 360, FRAMERATE, 1000, "pcma"),
    "h264-pcmu": Kind("h264", 640, 360, FRAMERATE, 1000, "pcmu"),
    "h264-720p-gop4": Kind("h264", 1280, 720, 4 * FRAMERATE, 2000, None),
    "h265-aac": Kind("h265", 640, 360, HEVC_FRAMERATE, 700, "aac", framerate=HEVC_FRAMERATE),
    "h265-pcma": Kind("h265", 640, 360, HEVC_FRAMERATE, 700, "pcma", framerate=HEVC_FRAMERATE),
    "mjpeg": Kind("mjpeg", 640, 360, 1, 0, None),
    "h264-jumping": Kind("h264", 640, 360, FRAMERATE, 1000, "aac", jumping=True),
}
DEFAULT_KIND = "h264-aac"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve one fake RTSP camera.")
    parser.add_argument("--address", required=True, help="address to bind (only this one)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mount", required=True, help="mount path, e.g. /cam1")
    parser.add_argument("--kind", choices=sorted(KINDS), default=DEFAULT_KIND, help="what the camera sends")
    parser.add_argument("--sub", action="store_true", help="also serve a smaller sub profile at <mount>-sub")
    parser.add_argument("--user", help="require RTSP auth with this user name")
    parser.add_argument("--auth-method", choices=("basic", "digest"), default="basic", help="with --user")
    parser.add_argument("--password-file", help="file holding the password (else $%s)" % PASSWORD_ENV)
    parser.add_argument("--pattern", default=None, help="videotestsrc pattern (default: by mount)")
    parser.add_argument("--freq", type=int, default=440, help="audio tone in Hz")
    parser.add_argument("--instance", default="", help="label of the testbed that owns this process")
    parser.add_argument("--no-stamp", action="store_true", help="do not draw the per-frame QR code")
    parser.add_argument("--encoder-settings", help="onvif_device.py's state file: GOP lengths to follow")
    return parser.parse_args(argv)


def read_password(args: argparse.Namespace) -> str | None:
    if args.password_file:
        with open(args.password_file) as handle:
            return handle.read().rstrip("\n")
    return os.environ.get(PASSWORD_ENV)


def default_pattern(mount: str) -> str:
    digits = "".join(c for c in mount if c.isdigit())
    number = int(digits) if digits else 1
    return PATTERNS[(number - 1) % len(PATTERNS)]


def aac_encoder() -> str:
    for name in AAC_ENCODERS:
        if Gst.ElementFactory.find(name) is not None:
            return name
    raise SystemExit("no AAC encoder element (avenc_aac, voaacenc, fdkaacenc) is installed")


def video_branch(kind: Kind, pattern: str, stamp: bool, sub: bool, gop: int | None = None,
                 size: tuple[int, int] | None = None) -> str:
    width, height = size or (SUB_SIZES[(kind.width, kind.height)] if sub else (kind.width, kind.height))
    overlay = f"! debugqroverlay name={CLOCK_QR} x=1 y=1 pixel-size={CLOCK_QR_PIXELS} " if stamp else ""
    source = (
        f"videotestsrc is-live=true pattern={pattern} "
        f"! video/x-raw,width={width},height={height},framerate={kind.framerate}/1 "
        f"{overlay}"
        "! videoconvert ! video/x-raw,format=I420 "
    )
    kbps = SUB_BITRATE_KBPS if sub else kind.video_kbps
    gop = gop or kind.gop_frames
    if kind.video == "h264":
        return source + (
            f"! x264enc tune=zerolatency speed-preset=ultrafast threads=1 key-int-max={gop} bitrate={kbps} "
            "! video/x-h264,profile=baseline "
            "! rtph264pay name=pay0 pt=96 config-interval=1 "
        )
    if kind.video == "h265":
        # open-gop=0: keyframes are IDR pictures, not CRA, so every one is a clean start for a client.
        return source + (
            f"! x265enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bitrate={kbps} "
            'option-string="open-gop=0:pools=1:frame-threads=1:lookahead-slices=0" '
            "! video/x-h265,profile=main ! h265parse "
            "! rtph265pay name=pay0 pt=96 config-interval=1 "
        )
    if kind.video == "mjpeg":
        quality = SUB_MJPEG_QUALITY if sub else kind.mjpeg_quality
        return source + f"! jpegenc quality={quality} ! rtpjpegpay name=pay0 pt=26 "
    raise ValueError(f"unknown video codec {kind.video!r}")


def audio_branch(kind: Kind, freq: int) -> str:
    if kind.audio is None:
        return ""
    tone = f"audiotestsrc is-live=true wave=sine freq={freq} volume=0.2 ! audioconvert ! audioresample "
    if kind.audio == "aac":
        return tone + (
            "! audio/x-raw,rate=48000,channels=1 "
            f"! {aac_encoder()} bitrate=64000 ! aacparse "
            "! rtpmp4gpay name=pay1 pt=97 "
        )
    if kind.audio == "pcma":
        return tone + "! audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay name=pay1 pt=8 "
    if kind.audio == "pcmu":
        return tone + "! audio/x-raw,rate=8000,channels=1 ! mulawenc ! rtppcmupay name=pay1 pt=0 "
    raise ValueError(f"unknown audio codec {kind.audio!r}")


def launch_line(pattern: str, freq: int, stamp: bool, kind: Kind = KINDS[DEFAULT_KIND], sub: bool = False,
                gop: int | None = None, size: tuple[int, int] | None = None) -> str:
    return "( " + video_branch(kind, pattern, stamp, sub, gop, size) + audio_branch(kind, freq) + ")"


@dataclass(frozen=True)
class Encoder:
    """What an ONVIF client set for one stream: codec (h264, h265), picture size, GOP length."""

    video: str
    size: tuple[int, int]
    gop: int


ONVIF_CODECS = {"H264": "h264", "H265": "h265"}


def configured_encoder(settings_file: str, port: int, mount: str) -> Encoder | None:
    """The encoder settings the ONVIF simulator's state file gives the profile streamed at this port
    and mount; None when no profile is (or the file is missing or half-written)."""
    try:
        with open(settings_file) as handle:
            profiles = json.load(handle)["profiles"].values()
        for profile in profiles:
            uri = urlsplit(profile.get("uri", ""))
            if uri.path == mount and uri.port == port:
                return Encoder(ONVIF_CODECS[profile["encoding"]], (int(profile["width"]), int(profile["height"])),
                               int(profile["gov_length"]))  # fmt: skip
    except (OSError, ValueError, KeyError, AttributeError, TypeError):
        return None
    return None


def encoder_launch(pattern: str, freq: int, stamp: bool, kind: Kind, sub: bool):
    """Encoder (or None: the kind's own settings) -> the launch line of a mount of this camera."""

    def launch(encoder: Encoder | None) -> str:
        if encoder is None:
            return launch_line(pattern, freq, stamp, kind, sub=sub)
        return launch_line(pattern, freq, stamp, replace(kind, video=encoder.video), sub=sub, gop=encoder.gop, size=encoder.size)

    return launch


def follow_encoder_settings(server: GstRtspServer.RTSPServer, args: argparse.Namespace, launches: dict) -> None:
    """Poll the settings file; when a mount's encoder settings change, give its factory the new launch
    line and disconnect every client (a camera restarting its encoder), so the next media has them.
    `launches` maps each mount to (factory, function of an Encoder -> launch line, current Encoder)."""

    def check() -> bool:
        changed = False
        for mount, (factory, launch_for, current) in list(launches.items()):
            encoder = configured_encoder(args.encoder_settings, args.port, mount)
            if encoder and encoder != current:
                factory.set_launch(launch_for(encoder))
                launches[mount] = (factory, launch_for, encoder)
                print(f"ENCODER {mount} {encoder.gop} {encoder.video} {encoder.size[0]}x{encoder.size[1]}", flush=True)
                changed = True
        if changed:
            server.client_filter(lambda *_: GstRtspServer.RTSPFilterResult.REMOVE)
        return True

    GLib.timeout_add(SETTINGS_POLL_MS, check)


def check_pipeline(launch: str) -> None:
    """Fail at start-up, not at the first client, when the pipeline description is wrong."""
    try:
        pipeline = Gst.parse_launch(launch.strip().strip("()"))
    except GLib.Error as exc:
        raise SystemExit(f"bad camera pipeline: {exc.message}: {launch}")
    pipeline.set_state(Gst.State.NULL)


def jump_offset(running_time: int) -> int:
    """How far back a buffer at `running_time` is moved: JUMP_BACK_S more after every JUMP_EVERY_S.
    Always less than running_time, so a timestamp never goes below its segment's start."""
    return (running_time // (JUMP_EVERY_S * Gst.SECOND)) * JUMP_BACK_S * Gst.SECOND


def shift_timestamps(pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
    """Pad probe on a payloader's sink pad: move PTS/DTS back by jump_offset of the buffer's running
    time. The payloader derives the RTP timestamp from them, so the jump is on the wire, in video and
    audio alike (the running time is the pipeline's clock for both; the PTS is not: x264enc adds
    1000 hours to its own)."""
    buffer = info.get_buffer()
    event = pad.get_sticky_event(Gst.EventType.SEGMENT, 0)
    if buffer is None or event is None or buffer.pts == Gst.CLOCK_TIME_NONE:
        return Gst.PadProbeReturn.OK
    running_time = event.parse_segment().to_running_time(Gst.Format.TIME, buffer.pts)
    if running_time == Gst.CLOCK_TIME_NONE:
        return Gst.PadProbeReturn.OK
    offset = jump_offset(running_time)
    if offset:
        buffer.pts -= offset
        if buffer.dts != Gst.CLOCK_TIME_NONE:
            buffer.dts -= min(offset, buffer.dts)
    return Gst.PadProbeReturn.OK


def make_jump(_factory: GstRtspServer.RTSPMediaFactory, media: GstRtspServer.RTSPMedia) -> None:
    bin_ = media.get_element()
    for name in ("pay0", "pay1"):
        payloader = bin_.get_by_name(name)
        if payloader is not None:
            payloader.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, shift_timestamps)


def not_seekable(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
    """Answer a SEEKING query unanswered: a new one says "not seekable" until an element fills it in."""
    query = info.get_query()
    if query is not None and query.type == Gst.QueryType.SEEKING:
        return Gst.PadProbeReturn.HANDLED
    return Gst.PadProbeReturn.OK


def clock_probe(mount: str):
    """A pad probe for the timestamp QR's sink pad that prints the mount's CLOCK line: a live source
    stamps each frame with the running time at capture, so wall clock minus timestamp is the Unix
    time of running time 0 (plus the few microseconds from capture to here: the smallest is kept)."""
    offsets: list[float] = []

    def probe(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        buffer = info.get_buffer()
        if buffer is None or buffer.pts == Gst.CLOCK_TIME_NONE:
            return Gst.PadProbeReturn.OK
        offsets.append(time.time() * 1000 - buffer.pts / 1e6)
        if len(offsets) == CLOCK_FRAMES:
            print(f"CLOCK {mount} {min(offsets):.3f}", flush=True)
            return Gst.PadProbeReturn.REMOVE
        return Gst.PadProbeReturn.OK

    return probe


def make_clock(mount: str):
    def configure(_factory: GstRtspServer.RTSPMediaFactory, media: GstRtspServer.RTSPMedia) -> None:
        overlay = media.get_element().get_by_name(CLOCK_QR)
        if overlay is not None:
            overlay.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, clock_probe(mount))

    return configure


def make_live(_factory: GstRtspServer.RTSPMediaFactory, media: GstRtspServer.RTSPMedia) -> None:
    """A camera's stream is live: a client's PLAY (ffmpeg asks for "Range: npt=0.000-") must not
    seek it. The test sources can seek, and on a shared media that seek restarts every client's
    timestamps at 0 whenever another client starts playing. Say the stream is not seekable, as a
    camera does, and the server skips the seek."""
    bin_ = media.get_element()
    for name in ("pay0", "pay1"):
        payloader = bin_.get_by_name(name)
        if payloader is not None:
            payloader.get_static_pad("src").add_probe(Gst.PadProbeType.QUERY_UPSTREAM, not_seekable)


def configure_auth(server: GstRtspServer.RTSPServer, factories: list[GstRtspServer.RTSPMediaFactory],
                   user: str, password: str, method: str = "basic") -> None:
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "viewer")
    if method == "digest":
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        auth.add_digest(user, password, token)
    else:
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    server.set_auth(auth)
    for factory in factories:
        factory.add_role_from_structure(Gst.Structure.from_string(
            "viewer, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
        )[0])


def make_factory(launch: str, kind: Kind) -> GstRtspServer.RTSPMediaFactory:
    check_pipeline(launch)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(True)
    factory.set_latency(0)
    factory.connect("media-configure", make_live)
    if kind.jumping:
        factory.connect("media-configure", make_jump)
    return factory


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    Gst.init(None)
    password = read_password(args) if args.user else None
    if args.user and not password:
        print(f"--user given but no password in ${PASSWORD_ENV} or --password-file", file=sys.stderr)
        return 2
    stamp = not args.no_stamp and Gst.ElementFactory.find("debugqroverlay") is not None
    kind = KINDS[args.kind]
    pattern = args.pattern or default_pattern(args.mount)
    sub_mount = f"{args.mount}-sub"

    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    launch_for = {mount: encoder_launch(pattern, args.freq, stamp, kind, sub=mount == sub_mount)
                  for mount in ([args.mount, sub_mount] if args.sub else [args.mount])}  # fmt: skip
    encoders = {mount: configured_encoder(args.encoder_settings, args.port, mount) if args.encoder_settings else None
                for mount in launch_for}  # fmt: skip
    mounts = {mount: make_factory(launch(encoders[mount]), kind) for mount, launch in launch_for.items()}
    if args.encoder_settings:
        follow_encoder_settings(server, args, {m: (mounts[m], launch_for[m], encoders[m]) for m in mounts})
    if args.user:
        configure_auth(server, list(mounts.values()), args.user, password, args.auth_method)
    for mount, factory in mounts.items():
        factory.connect("media-configure", make_clock(mount))
        server.get_mount_points().add_factory(mount, factory)

    loop = GLib.MainLoop()
    if server.attach(None) == 0:
        print(f"cannot listen on {args.address}:{args.port}", file=sys.stderr, flush=True)
        return 1
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    base = f"rtsp://{args.address}:{args.port}"
    notes = []
    if args.kind != DEFAULT_KIND:
        notes.append(f"kind {args.kind}")
    if args.sub:
        notes.append(f"sub {base}{sub_mount}")
    if args.user:
        notes.append(f"{args.auth_method} auth, user {args.user}")
    if args.encoder_settings:
        notes.append("encoder " + ", ".join(f"{m} {e.gop} {e.video} {e.size[0]}x{e.size[1]}" if e else f"{m} as --kind"
                                            for m, e in encoders.items()))
    note = f" ({'; '.join(notes)})" if notes else ""
    print(f"READY {base}{args.mount}{note}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
