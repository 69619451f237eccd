#!/usr/bin/python3
"""A fake IP camera: one GStreamer RTSP server process serving one H.264 + AAC stream.

Run with Debian's /usr/bin/python3 (it needs the system `gi` bindings):

    CAMGATE_CAMERA_PASSWORD=secret /usr/bin/python3 fake_camera.py \\
        --address 10.231.0.1 --port 8556 --mount /cam3 --user viewer

The password never goes on the command line (argv is world-readable): it comes from the
environment variable CAMGATE_CAMERA_PASSWORD or from a file named by --password-file (mode 0600).
With --user the server requires RTSP basic auth and answers 401 without it.

Video: videotestsrc (live) -> a QR code of the frame's count and timestamp (debugqroverlay), so no
two frames are alike and a frame can be recognised downstream -> x264 (ultrafast, zerolatency, 1 s
GOP) 640x360 25 fps. Audio: audiotestsrc (live sine) -> AAC. The media is shared, so several
clients read one encoder. Prints "READY rtsp://..." on stdout once listening.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PASSWORD_ENV = "CAMGATE_CAMERA_PASSWORD"
PATTERNS = ("smpte", "ball", "pinwheel", "spokes", "circular", "zone-plate", "gamut", "bar", "colors")
AAC_ENCODERS = ("avenc_aac", "voaacenc", "fdkaacenc")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve one fake RTSP camera.")
    parser.add_argument("--address", required=True, help="address to bind (only this one)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mount", required=True, help="mount path, e.g. /cam1")
    parser.add_argument("--user", help="require RTSP basic auth with this user name")
    parser.add_argument("--password-file", help="file holding the password (else $%s)" % PASSWORD_ENV)
    parser.add_argument("--pattern", default=None, help="videotestsrc pattern (default: by mount)")
    parser.add_argument("--freq", type=int, default=440, help="audio tone in Hz")
    parser.add_argument("--instance", default="", help="label of the testbed that owns this process")
    parser.add_argument("--no-stamp", action="store_true", help="do not draw the per-frame QR code")
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


def launch_line(pattern: str, freq: int, stamp: bool) -> str:
    overlay = "! debugqroverlay x=1 y=1 pixel-size=2 " if stamp else ""
    encoder = aac_encoder()
    return (
        "( "
        f"videotestsrc is-live=true pattern={pattern} "
        "! video/x-raw,width=640,height=360,framerate=25/1 "
        f"{overlay}"
        "! videoconvert ! video/x-raw,format=I420 "
        "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 bitrate=1000 "
        "! video/x-h264,profile=baseline "
        "! rtph264pay name=pay0 pt=96 config-interval=1 "
        f"audiotestsrc is-live=true wave=sine freq={freq} volume=0.2 "
        "! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=1 "
        f"! {encoder} bitrate=64000 ! aacparse "
        "! rtpmp4gpay name=pay1 pt=97 "
        ")"
    )


def check_pipeline(launch: str) -> None:
    """Fail at start-up, not at the first client, when the pipeline description is wrong."""
    try:
        pipeline = Gst.parse_launch(launch.strip().strip("()"))
    except GLib.Error as exc:
        raise SystemExit(f"bad camera pipeline: {exc.message}: {launch}")
    pipeline.set_state(Gst.State.NULL)


def configure_auth(server: GstRtspServer.RTSPServer, factory: GstRtspServer.RTSPMediaFactory,
                   user: str, password: str) -> None:
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "viewer")
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    server.set_auth(auth)
    factory.add_role_from_structure(Gst.Structure.from_string(
        "viewer, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
    )[0])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    Gst.init(None)
    password = read_password(args) if args.user else None
    if args.user and not password:
        print(f"--user given but no password in ${PASSWORD_ENV} or --password-file", file=sys.stderr)
        return 2
    stamp = not args.no_stamp and Gst.ElementFactory.find("debugqroverlay") is not None

    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    launch = launch_line(args.pattern or default_pattern(args.mount), args.freq, stamp)
    check_pipeline(launch)
    factory.set_launch(launch)
    factory.set_shared(True)
    factory.set_latency(0)
    if args.user:
        configure_auth(server, factory, args.user, password)
    server.get_mount_points().add_factory(args.mount, factory)

    loop = GLib.MainLoop()
    if server.attach(None) == 0:
        print(f"cannot listen on {args.address}:{args.port}", file=sys.stderr, flush=True)
        return 1
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    auth_note = f" (basic auth, user {args.user})" if args.user else ""
    print(f"READY rtsp://{args.address}:{args.port}{args.mount}{auth_note}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
