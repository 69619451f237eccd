"""`camgate camera onvif` and `camgate camera tune`: an ONVIF camera on a gateway's network, read and
tuned through an SSH tunnel to that gateway (the operator's machine rarely reaches the cameras directly)."""

from __future__ import annotations

import dataclasses
import math
import re
import time
from contextlib import contextmanager
from typing import Iterator

import click

from camgate import remote
from camgate.cli.common import (
    EXIT_FAILURE,
    EXIT_REMOTE,
    HostEntry,
    fail,
    load_inventory_or_exit,
    pick_gateway,
    print_table,
    read_password,
    site_inventory,
)
from camgate.cli.inspect import probe_camera
from camgate.model import CAMERA_DEFAULTS, Camera, check_onvif_address
from camgate.onvif import Device, EncoderChange, OnvifError, Profile, change_encoder, read_device, same_stream, split_address
from camgate.probe import expected_latency
from camgate.secrets import SecretError, resolve_secret

# How long `tune` watches the stream for the new keyframe interval: cameras restart their encoder
# after a change, and the gateway's ffprobe needs two keyframes in each look.
SETTLE_SECONDS = 120
# A measured interval this close to the one asked for counts as applied (live encoders drift a little).
KEYFRAME_TOLERANCE = 0.2
# At least this long between two looks at a stream (a camera restarting refuses connections at once).
LOOK_INTERVAL = 3.0


@click.command("onvif")
@click.argument("site")
@click.argument("address", metavar="ADDRESS|ID")
@click.option("--username", help="The camera's ONVIF user (often its admin account).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (one line).")
@click.option("--password-prompt", is_flag=True, help="Ask for the password (hidden, twice).")
@click.option("--gateway", help="The gateway whose network the camera is on (when the inventory has several).")
@click.option("--direct", is_flag=True, help="Connect from this machine instead of through the gateway.")
@click.option("--timeout", type=click.FloatRange(1, 300), default=20, show_default=True, help="Seconds for all the calls together.")
def camera_onvif(site: str, address: str, username: str | None, password_stdin: bool, password_prompt: bool,
                 gateway: str | None, direct: bool, timeout: float) -> None:
    """Read an ONVIF camera on the network of SITE's gateway (SITE: a site name or an inventory
    file): maker, model, firmware, clock, and every media profile with its codec, size, frame rate,
    keyframe interval, bitrate, RTSP stream URI and snapshot URI, and the live latency each would
    give. The camera is ADDRESS or ADDRESS:PORT (port 80 by default), or the ID of a camera of the
    site with an `onvif` field, whose user and password are then used unless given. Changes
    nothing on the camera. Media2 is used where the camera offers it (H.265 profiles appear only
    there). Exits 0, 1 when the camera cannot be read (the reason and the fix are printed), 2 on
    bad input, 4 when the gateway cannot be reached.

    \b
    Example:
      printf '%s' "$CAM_PW" | camgate camera onvif mysite 192.168.1.20 --username admin --password-stdin
      camgate camera onvif mysite front-door
    """
    entries = load_inventory_or_exit(site_inventory(site))
    password = read_password(password_stdin, password_prompt, what="ONVIF password")
    known = _site_camera(entries, address)
    if known is not None and known[1].onvif:
        entry, camera = known
        host, port = address_or_exit(camera.onvif, f"camera {camera.id}: field 'onvif'")
        username = username or camera.username
        password = password or _camera_password(entry, camera)
    else:
        host, port = address_or_exit(address, "ADDRESS")
        entry = pick_gateway(entries, gateway)
    device = read_camera_or_exit(entry, host, port, username, password, timeout, direct)
    print_device(device, host, port)


def address_or_exit(address: str, what: str) -> tuple[str, int]:
    problem = check_onvif_address(address)
    if problem:
        fail(f"{what}: {problem}")
    return split_address(address)


@contextmanager
def _camera_port(entry: HostEntry, host: str, port: int, direct: bool = False) -> Iterator[tuple[object, str, int]]:
    """(SSH client, host, port) through which this machine reaches the camera's ONVIF port: a
    tunnel through the gateway, or the camera itself with `direct` (no client then)."""
    gateway, data = entry
    if direct:
        yield None, host, port
        return
    with remote.connect(remote.SshTarget.from_host_data(gateway.host, data)) as client:
        with remote.tunnel(client, host, port) as local_port:
            yield client, "127.0.0.1", local_port


def read_camera_or_exit(entry: HostEntry, host: str, port: int, username: str | None, password: str | None,
                        timeout: float, direct: bool = False) -> Device:
    """The camera's ONVIF account of itself; exit 1 (camera) or 4 (gateway) with the reason and fix."""
    try:
        with _camera_port(entry, host, port, direct) as (_client, reach_host, reach_port):
            return read_device(reach_host, reach_port, username, password, timeout=timeout, name=f"{host}:{port}")
    except remote.RemoteError as exc:
        fail(str(exc), EXIT_REMOTE)
    except OnvifError as exc:
        fail(str(exc), EXIT_FAILURE)


def print_device(device: Device, host: str, port: int) -> None:
    click.echo(f"{host}:{port}: {device.manufacturer} {device.model}, firmware {device.firmware}, serial {device.serial}")
    click.echo(f"clock: {device.clock_note or f'within {abs(device.clock_offset):.0f} s of this machine'}")
    hls_time = CAMERA_DEFAULTS["hls_time"]
    print_table(
        ("PROFILE", "SERVICE", "VIDEO", "SIZE", "FPS", "KEYFRAMES", "BITRATE", "LATENCY", "STREAM"),
        [(p.name, p.media, p.encoding, f"{p.width}x{p.height}", f"{p.fps:g}" if p.fps else "-",
          f"every {p.keyframe_interval:g} s" if p.keyframe_interval else "-",
          f"{p.bitrate_kbps / 1000:.2f} Mbit/s" if p.bitrate_kbps else "-",
          f"about {expected_latency(hls_time, p.keyframe_interval)} s", p.stream_uri)
         for p in device.profiles],
    )  # fmt: skip
    for profile in device.profiles:
        if profile.snapshot_uri:
            click.echo(f"snapshot: {profile.name}: {profile.snapshot_uri}")
    slow = [p.name for p in device.profiles if p.keyframe_interval and p.keyframe_interval > hls_time]
    if slow:
        click.echo(f"advice: {', '.join(slow)}: a keyframe less often than every {hls_time} s (the segment length) "
                   "makes live view lag; set the camera's keyframe interval (GOP) to 1-2 s")


# --- camgate camera tune ------------------------------------------------------------------------


class Seconds(click.ParamType):
    """1, 1s, 1.5s, 500ms -> seconds (a float)."""

    name = "seconds"

    def convert(self, value, param, ctx):
        if isinstance(value, float):
            return value
        match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(s|ms)?\s*", str(value).lower())
        seconds = float(match[1]) / (1000 if match[2] == "ms" else 1) if match else 0.0
        if not 0 < seconds <= 60:
            self.fail(f"{value!r} is not a keyframe interval; use e.g. 1s, 2s or 500ms (at most 60s)", param, ctx)
        return seconds


CODECS = {"h264": "H264", "h265": "H265"}  # option value -> ONVIF encoding
PROBED_CODEC = {"H264": "h264", "H265": "hevc"}  # ONVIF encoding -> what ffprobe calls it


def picture_size(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    match = re.fullmatch(r"([0-9]{2,5})x([0-9]{2,5})", value.strip().lower())
    if not match:
        fail(f"--sub-size: {value!r} is not a picture size; fix: give WIDTHxHEIGHT, e.g. 640x360")
    return int(match[1]), int(match[2])


@click.command("tune")
@click.argument("site")
@click.argument("camera_id", metavar="ID")
@click.option("--keyframe", "seconds", type=Seconds(), help="Seconds between keyframes: 1s, 2s, 500ms.")
@click.option("--codec", type=click.Choice(sorted(CODECS), case_sensitive=False),
              help="Video codec of the profiles: h264 (WebRTC, every phone and browser) or h265 (where offered).")
@click.option("--sub-size", help="Picture size of the sub profile, WIDTHxHEIGHT, one the camera offers (e.g. 640x360).")
@click.option("--dry-run", is_flag=True, help="Print what would change (before -> after) and change nothing.")
@click.option("--profile", help="The ONVIF profile (name or token) to tune (default: those of the camera's url and sub_url).")
@click.option("--onvif", "address", help="ADDRESS[:PORT] of the camera's ONVIF service (default: its onvif field).")
@click.option("--username", help="ONVIF user (default: the camera's username).")
@click.option("--password-stdin", is_flag=True, help="Read the ONVIF password from standard input (default: the camera's).")
@click.option("--password-prompt", is_flag=True, help="Ask for the ONVIF password (hidden, twice).")
@click.option("--settle", type=click.IntRange(10, 900), default=SETTLE_SECONDS, show_default=True,
              help="Seconds to wait for the stream to show the change.")
@click.option("--timeout", type=click.FloatRange(1, 300), default=20, show_default=True, help="Seconds for the ONVIF calls of each profile.")
def camera_tune(site: str, camera_id: str, seconds: float | None, codec: str | None, sub_size: str | None, dry_run: bool,
                profile: str | None, address: str | None, username: str | None, password_stdin: bool, password_prompt: bool,
                settle: int, timeout: float) -> None:  # fmt: skip
    """Change camera ID's video encoder over ONVIF on the profiles SITE pulls: its keyframe interval
    (GOP length), its codec, its sub profile's picture size; then check from the gateway that the
    stream really changed, measured as `camgate probe` does.

    The keyframe interval sets the live latency: segments are cut at keyframes, and players start
    three segments behind. H.264 is what WebRTC carries and what every phone plays. Every value is
    checked against the camera's own options (GovLengthRange, encodings, resolutions) before
    anything is changed; --dry-run prints before -> after and stops. The camera's ONVIF address is
    its `onvif` field (camgate camera add --onvif sets it) or --onvif; its user and password are
    the camera's (the same account on most cameras) unless given. Exits 0 when the stream shows
    the change, 1 when the camera refuses or its stream does not follow, 2 on bad input, 4 when the
    gateway cannot be reached.

    \b
    Example:
      camgate camera tune mysite front-door --keyframe 1s --dry-run
      camgate camera tune inventory/mysite.py front-door --keyframe 1s
      camgate camera tune mysite yard --codec h264 --sub-size 640x360
    """
    if seconds is None and codec is None and sub_size is None:
        fail("--keyframe, --codec or --sub-size: give at least one; fix: e.g. --keyframe 1s")
    size = picture_size(sub_size)
    entry, camera = _gateway_camera_or_exit(site_inventory(site), camera_id)
    if not (address or camera.onvif):
        _no_address(camera)
    host, port = address_or_exit(address or camera.onvif, "--onvif")
    username = username or camera.username
    password = read_password(password_stdin, password_prompt, what="ONVIF password") or _camera_password(entry, camera)
    try:
        # One SSH connection and tunnel for reading the camera, changing it and checking its stream.
        with _camera_port(entry, host, port) as (client, reach_host, reach_port):
            device = read_device(reach_host, reach_port, username, password, timeout=timeout, name=f"{host}:{port}")
            targets = _profiles_to_tune(device, camera, profile)
            if size and not profile and not any(stream == "sub" for stream, _ in targets):
                fail(f"--sub-size: camera {camera_id} has no sub stream in the site; fix: set its sub_url to a second "
                     "profile's stream, or pass --profile NAME")  # fmt: skip
            wanted = [(stream, p, size if (stream == "sub" or profile) else None) for stream, p in targets]
            wanted = [(stream, p, picture) for stream, p, picture in wanted if seconds or codec or picture]
            if not dry_run:
                _require_ffprobe(client, entry[0].host, site, camera_id)
            changes = [(stream, change_encoder(reach_host, reach_port, username, password, p.token, not dry_run,
                                               keyframe_seconds=seconds, encoding=CODECS.get((codec or "").lower()),
                                               size=picture, timeout=timeout, name=f"{host}:{port}"))
                       for stream, p, picture in wanted]  # fmt: skip
            for stream, change in changes:
                _print_change(camera, stream, change, dry_run)
            if dry_run:
                click.echo("dry run: nothing changed on the camera")
                return
            checked = [(stream, c) for stream, c in changes if stream is not None]
            if not checked:
                click.echo(f"note: profile {profile!r} is not a stream of camera {camera_id}: its stream is not checked")
                return
            if not _streams_follow(client, entry[0], camera, checked, settle):
                fail(f"camera {camera_id}: the camera took the new settings but its stream still does not show them "
                     f"after {settle} s; fix: some cameras apply encoder changes only after a restart (reboot it), and "
                     "'smart' codecs (H.264+, Zipstream, Smart Codec) override the GOP: turn them off in the camera's "
                     "web page", EXIT_FAILURE)  # fmt: skip
            if codec and codec.lower() == "h264" and camera.webrtc == "off":
                click.echo(f"note: camera {camera_id} now sends H.264, which WebRTC carries: webrtc = \"main\" in the site "
                           "gives it live view under a second")  # fmt: skip
    except remote.RemoteError as exc:
        fail(str(exc), EXIT_REMOTE)
    except OnvifError as exc:
        fail(str(exc), EXIT_FAILURE)


def _require_ffprobe(client, gateway: str, site: str, camera_id: str) -> None:
    """The check after a change measures the stream on the gateway: refuse before changing anything
    when the gateway cannot measure (a site not deployed yet has no ffmpeg there)."""
    status, _out, _err = remote.run(client, "command -v ffprobe")
    if status != 0:
        fail(f"camera {camera_id}: {gateway} has no ffprobe to check the stream after the change, so nothing was changed; "
             f"fix: deploy the site first (pyinfra {site_inventory(site)} deploy.py installs ffmpeg), then tune", EXIT_FAILURE)


def _site_camera(entries: list[HostEntry], camera_id: str) -> tuple[HostEntry, Camera] | None:
    for gateway, data in entries:
        for camera in gateway.cameras:
            if camera.id == camera_id:
                return (gateway, data), camera
    return None


def _gateway_camera_or_exit(inventory: str, camera_id: str) -> tuple[HostEntry, Camera]:
    entries = load_inventory_or_exit(inventory)
    found = _site_camera(entries, camera_id)
    if found is not None:
        return found
    ids = ", ".join(c.id for gateway, _ in entries for c in gateway.cameras) or "(none)"
    fail(f"ID: {camera_id!r} is not a camera of {inventory}; fix: use one of {ids}")


def _no_address(camera: Camera):
    fail(f"--onvif: camera {camera.id} has no onvif address; fix: pass --onvif ADDRESS[:PORT], or set onvif = "
         "\"ADDRESS\" on the camera in the site (camgate camera add --onvif sets it)")  # fmt: skip


def _camera_password(entry: HostEntry, camera: Camera) -> str | None:
    if not camera.password_ref:
        return None
    try:
        return resolve_secret(camera.password_ref, entry[0].secrets_file)
    except SecretError as exc:
        fail(f"camera {camera.id}: field 'password_ref': {exc}")


def _profiles_to_tune(device: Device, camera: Camera, wanted: str | None) -> list[tuple[str | None, Profile]]:
    """(which of the camera's streams it is: main, sub or None; profile) for each profile to tune:
    `wanted`, or those whose stream URI is the camera's url or sub_url."""
    def stream_of(profile: Profile) -> str | None:
        return "main" if same_stream(profile.stream_uri, camera.url) else "sub" if same_stream(profile.stream_uri, camera.sub_url) else None

    if wanted:
        found = [p for p in device.profiles if wanted in (p.name, p.token)]
        if not found:
            fail(f"--profile: the camera has no profile {wanted!r}; fix: use one of {_profile_names(device)}")
        return [(stream_of(found[0]), found[0])]
    matched = [(stream_of(p), p) for p in device.profiles if stream_of(p)]
    if not matched:
        fail(f"camera {camera.id}: its url {camera.url} is the stream of none of the camera's ONVIF profiles "
             f"({', '.join(f'{p.name}: {p.stream_uri}' for p in device.profiles)}); fix: pass --profile NAME, or "
             "set the camera's url to its profile's stream URI")  # fmt: skip
    return matched


def _profile_names(device: Device) -> str:
    return ", ".join(f"{p.name} ({p.token})" for p in device.profiles) or "(none with video)"


def _print_change(camera: Camera, stream: str | None, change: EncoderChange, dry_run: bool) -> None:
    p = change.profile
    encoding, (width, height), gov = change.after
    parts = []
    if change.gov_length:
        old = f"every {p.keyframe_interval:g} s (GOP {p.gov_length})" if p.keyframe_interval else "unknown"
        hls_time = camera.hls_time
        parts.append(f"keyframes {old} -> every {gov / p.fps:g} s (GOP {gov}); live latency about "
                     f"{expected_latency(hls_time, p.keyframe_interval)} s -> about {expected_latency(hls_time, gov / p.fps)} s")
    if change.encoding:
        parts.append(f"video {p.encoding} -> {encoding}")
    if change.size:
        parts.append(f"picture {p.width}x{p.height} -> {width}x{height}")
    what = f"{camera.id} {stream or 'profile'} ({p.name}, {p.encoding} {p.width}x{p.height} {p.fps:g} fps)"
    click.echo(f"{what}: {'; '.join(parts)}{' (dry run)' if dry_run else ''}")
    if change.applied is not None:
        a = change.applied
        extra = f", {a.encoding} {a.width}x{a.height}" if change.encoding or change.size else ""
        click.echo(f"{camera.id} {stream or p.name}: the camera reads back GOP {a.gov_length}{extra}")


def _shows(result, change: EncoderChange) -> bool:
    """Whether a probe of the stream shows what the change asked for (within KEYFRAME_TOLERANCE)."""
    encoding, (width, height), gov = change.after
    fps = change.profile.fps
    if change.gov_length and not (result.keyframe_interval and fps and
                                  math.isclose(result.keyframe_interval, gov / fps, rel_tol=KEYFRAME_TOLERANCE, abs_tol=0.1)):
        return False
    if change.encoding and result.video_codec != PROBED_CODEC.get(encoding, encoding.lower()):
        return False
    return not change.size or (result.width, result.height) == (width, height)


def _streams_follow(client, gateway, camera: Camera, changes: list[tuple[str, EncoderChange]], settle: int) -> bool:
    """Probe each changed stream from the gateway until it shows the change, for at most `settle`
    seconds; print what each look measured."""
    deadline = time.monotonic() + settle
    pending = {stream: (dataclasses.replace(camera, url=camera.url if stream == "main" else camera.sub_url), change)
               for stream, change in changes}  # fmt: skip
    while pending and time.monotonic() < deadline:
        look = time.monotonic()
        for stream, (target, change) in list(pending.items()):
            click.echo(f"checking {camera.id} {stream} from the gateway (ffprobe) ...", err=True)
            result = probe_camera(client, gateway, target)
            seen = (f"a keyframe every {result.keyframe_interval:g} s" if result.keyframe_interval else "no keyframe interval") + (
                f", {result.video_codec} {result.width}x{result.height}" if change.encoding or change.size else "")
            if _shows(result, change):
                click.echo(f"{camera.id} {stream}: measured from the gateway: {seen}")
                del pending[stream]
            else:
                click.echo(f"{camera.id} {stream}: measured {seen} (the camera may be restarting its encoder)", err=True)
        if pending:
            time.sleep(max(0.0, min(deadline - time.monotonic(), look + LOOK_INTERVAL - time.monotonic())))
    return not pending
