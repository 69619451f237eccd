"""A camera's ONVIF services, read from the operator's machine: who the device is, its clock, and its
media profiles with their stream and snapshot URIs and encoder settings (codec, size, frame rate,
keyframe interval as the GOP length, bitrate).

Device and Media (ver10) go through onvif-zeep-async (Home Assistant's ONVIF client; its bundled
WSDLs, nothing fetched at run time). Media2 (ver20, where cameras list H.265), which that library
lacks, goes through a few SOAP 1.2 requests of camgate's own with the same WS-UsernameToken digest.
A camera's clock is never assumed right: the digest's timestamp carries the offset measured from the
camera's own GetSystemDateAndTime (many cameras refuse a digest a few seconds off their clock).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit, urlunsplit
from xml.sax.saxutils import escape

MEDIA1 = "http://www.onvif.org/ver10/media/wsdl"
MEDIA2 = "http://www.onvif.org/ver20/media/wsdl"
NS = {
    "env": "http://www.w3.org/2003/05/soap-envelope",
    "tr2": MEDIA2,
    "tt": "http://www.onvif.org/ver10/schema",
}
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
BASE64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
DEFAULT_TIMEOUT = 20.0
ONVIF_PORT = 80  # the device service's port on nearly every camera
RTSP_PORT = 554
HLS_CODECS = ("H264", "H265")  # what camgate copies into HLS; a JPEG profile would need transcoding
CLOCK_WARNING = timedelta(minutes=1)  # off by more than this: say so (recordings and logs carry the camera's time)


class OnvifError(RuntimeError):
    """Reading or changing a camera over ONVIF failed; the message names what and the fix."""


@dataclass(frozen=True)
class Profile:
    token: str
    name: str
    encoding: str  # H264, H265, JPEG...
    width: int
    height: int
    fps: float | None
    gov_length: int | None  # frames from one keyframe to the next
    bitrate_kbps: int | None
    stream_uri: str
    snapshot_uri: str | None
    encoder_token: str
    media: str  # "media2" or "media", the service it was read from

    @property
    def keyframe_interval(self) -> float | None:
        """Seconds between keyframes, which set the HLS live latency."""
        return self.gov_length / self.fps if self.gov_length and self.fps else None


@dataclass(frozen=True)
class Device:
    address: str
    manufacturer: str
    model: str
    firmware: str
    serial: str
    clock_offset: float  # the camera's clock minus this machine's, in seconds
    profiles: tuple[Profile, ...]

    @property
    def clock_note(self) -> str | None:
        if abs(self.clock_offset) <= CLOCK_WARNING.total_seconds():
            return None
        return (f"the camera's clock is {abs(self.clock_offset):.0f} s {'ahead' if self.clock_offset > 0 else 'behind'}; "
                "camgate allowed for it, but fix it on the camera (NTP): recordings and its logs carry its time")


def read_device(host: str, port: int, username: str | None, password: str | None,
                timeout: float = DEFAULT_TIMEOUT, name: str | None = None) -> Device:
    """Everything camgate needs from a camera's ONVIF services; OnvifError on any failure. `name`
    is what messages call the camera (default host:port; through a tunnel, its own address)."""
    step = _Step(name or f"{host}:{port}")
    return asyncio.run(_within(timeout, _read_device(host, port, username or "", password or "", step), step))


async def _within(timeout: float, work, step: "_Step"):
    """Await `work`, turning a camera that stops answering, and the library's errors, into OnvifError."""
    try:
        return await asyncio.wait_for(work, timeout)
    except asyncio.TimeoutError:
        raise OnvifError(f"{step.camera} stopped answering during {step.name} ({timeout:.0f} s); "
                         "fix: check that the camera is up and not overloaded, then try again") from None
    except OnvifError:
        raise
    except Exception as exc:  # the library raises zeep, aiohttp and its own errors alike
        raise _explained(exc, step) from exc


class _Step:
    """The camera as messages name it, and the ONVIF call in progress."""

    def __init__(self, camera: str):
        self.camera, self.name = camera, "connecting"


def _explained(exc: Exception, step: _Step) -> OnvifError:
    text = str(exc) or type(exc).__name__
    if _library().util.is_auth_error(exc) or "NotAuthorized" in text:
        return OnvifError(f"{step.camera} refused the user name or password ({step.name}: {text}); fix: give the "
                          "camera's ONVIF user (often the admin account; some cameras need an ONVIF user created in "
                          "their web page) and its password; if they are right, set the camera's clock (NTP): many "
                          "cameras refuse a login dated more than a few seconds off their own time")
    if isinstance(exc, (OSError, asyncio.TimeoutError)) or "Cannot connect" in text or "ClientConnector" in type(exc).__name__:
        return OnvifError(f"no ONVIF service at {step.camera} ({text}); fix: check the "
                          "address and port (80 on most cameras) and that ONVIF is enabled in the camera's settings")
    return OnvifError(f"{step.camera}: {step.name} failed: {text}; fix: check that the device is an ONVIF camera "
                      "(Profile S or T)")


async def _connect(host: str, port: int, username: str, password: str, step: _Step):
    """The library's camera, its services found and its clock offset measured; and a Media2 client
    when the camera offers Media2 (None otherwise)."""
    camera = _library().ONVIFCamera(host, port, username, password, adjust_time=True, no_cache=True, nat_override=True)
    step.name = "GetSystemDateAndTime/GetServices"
    try:
        await camera.update_xaddrs()
    except BaseException:
        await camera.close()
        raise
    media2 = Media2(camera.xaddrs[MEDIA2], username, password, camera.dt_diff or timedelta(0)) if MEDIA2 in camera.xaddrs else None
    return camera, media2


async def _profiles(camera, media2: "Media2 | None", step: _Step) -> list[Profile]:
    """The video profiles, from Media2 where offered (H.265 is listed only there), else from Media."""
    return await (_media2_profiles(media2, step) if media2 else _media1_profiles(camera, step))


async def _read_device(host: str, port: int, username: str, password: str, step: _Step) -> Device:
    camera, media2 = await _connect(host, port, username, password, step)
    try:
        device = await camera.create_devicemgmt_service()
        step.name = "GetDeviceInformation"
        info = await device.GetDeviceInformation()
        offset = camera.dt_diff or timedelta(0)
        profiles = await _profiles(camera, media2, step)
    finally:
        await camera.close()
    if not profiles:
        raise OnvifError(f"{step.camera} ({info.Manufacturer} {info.Model}) has no media profile with video; "
                         "fix: create one in the camera's web page (video encoder settings), then try again")
    return Device(
        address=host, manufacturer=str(info.Manufacturer or ""), model=str(info.Model or ""),
        firmware=str(info.FirmwareVersion or ""), serial=str(info.SerialNumber or ""),
        clock_offset=offset.total_seconds(), profiles=tuple(profiles),
    )  # fmt: skip


def _library():
    """onvif-zeep-async, imported without the root-logger setup it does at import (basicConfig at INFO)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    import onvif
    import onvif.util  # noqa: F401  (is_auth_error)

    root.handlers[:], root.level = handlers, level
    return onvif


Size = tuple[int, int]


@dataclass(frozen=True)
class EncoderOptions:
    """What the camera allows for one encoder configuration, for the encoding asked for."""

    encodings: tuple[str, ...]  # every encoding the encoder offers
    gov_range: tuple[int, int]
    sizes: tuple[Size, ...]  # the resolutions it offers in that encoding (empty: not listed)


@dataclass(frozen=True)
class EncoderChange:
    profile: Profile  # as it was
    gov_length: int | None  # asked for (None: unchanged), and so on
    encoding: str | None
    size: Size | None
    options: EncoderOptions
    applied: Profile | None  # read back after the change; None in a dry run

    @property
    def after(self) -> tuple[str, Size, int | None]:
        """(encoding, size, GOP length) the profile has once the change is made."""
        p = self.profile
        return self.encoding or p.encoding, self.size or (p.width, p.height), self.gov_length or p.gov_length


def change_encoder(host: str, port: int, username: str | None, password: str | None, profile: str, apply: bool, *,
                   keyframe_seconds: float | None = None, encoding: str | None = None, size: Size | None = None,
                   timeout: float = DEFAULT_TIMEOUT, name: str | None = None) -> EncoderChange:
    """Change the video encoder of `profile` (token or name) on the service it was read from: its GOP
    length so keyframes come every `keyframe_seconds`, its `encoding` (H264, H265), its `size`.
    Everything is checked against the camera's own options first (OnvifError naming the choices);
    with apply=False nothing is changed. After the change the profile is read back."""
    step = _Step(name or f"{host}:{port}")
    work = _change_encoder(host, port, username or "", password or "", profile, apply, keyframe_seconds, encoding, size, step)
    return asyncio.run(_within(timeout, work, step))


def set_keyframe_interval(host: str, port: int, username: str | None, password: str | None, profile: str,
                          seconds: float, apply: bool, timeout: float = DEFAULT_TIMEOUT, name: str | None = None) -> EncoderChange:
    """change_encoder for the keyframe interval alone."""
    return change_encoder(host, port, username, password, profile, apply, keyframe_seconds=seconds, timeout=timeout, name=name)


async def _change_encoder(host, port, username, password, wanted: str, apply: bool, seconds: float | None,
                          encoding: str | None, size: Size | None, step: _Step) -> EncoderChange:
    camera, media2 = await _connect(host, port, username, password, step)
    try:
        profile = _pick(await _profiles(camera, media2, step), wanted, step.camera)
        media1 = None if media2 else await camera.create_media_service()
        target = encoding or profile.encoding
        options = await (_media2_options(media2, profile, target, step) if media2 else _media1_options(media1, profile, target, step))
        gov = _gov_length(profile, seconds, options, step.camera) if seconds else None
        _check_choice(profile, encoding, size, options, step.camera, media2 is not None)
        change = EncoderChange(profile, gov, encoding, size, options, None)
        if not apply:
            return change
        if media2:
            await _media2_set(media2, profile, change, step)
        else:
            await _media1_set(media1, profile, change, step)
        after = _pick(await _profiles(camera, media2, step), profile.token, step.camera)
    finally:
        await camera.close()
    return EncoderChange(profile, gov, encoding, size, options, after)


def _gov_length(profile: Profile, seconds: float, options: EncoderOptions, camera: str) -> int:
    if not profile.fps:
        raise OnvifError(f"{camera} profile {profile.name!r} reports no frame rate, so no GOP length for "
                         f"{seconds:g} s; fix: set the keyframe interval in the camera's web page")
    gov = max(1, round(seconds * profile.fps))
    low, high = options.gov_range
    if not low <= gov <= high:
        raise OnvifError(f"{camera} profile {profile.name!r}: a keyframe every {seconds:g} s at {profile.fps:g} fps "
                         f"is a GOP length of {gov}, outside what the camera allows ({low}-{high}); fix: choose "
                         f"between {low / profile.fps:g} s and {high / profile.fps:g} s")
    return gov


def _check_choice(profile: Profile, encoding: str | None, size: Size | None, options: EncoderOptions, camera: str,
                  has_media2: bool) -> None:
    if encoding and encoding not in options.encodings:
        where = "" if has_media2 else " (it has no Media2 service, and Media lists no H.265)"
        raise OnvifError(f"{camera} profile {profile.name!r} offers {', '.join(options.encodings) or 'no encoding'}, "
                         f"not {encoding}{where}; fix: choose one of those, or set the codec in the camera's web page")
    if size and options.sizes and size not in options.sizes:
        offered = ", ".join(f"{w}x{h}" for w, h in options.sizes)
        raise OnvifError(f"{camera} profile {profile.name!r} offers {offered} in {encoding or profile.encoding}, not "
                         f"{size[0]}x{size[1]}; fix: choose one of those")


def _pick(profiles: list[Profile], wanted: str, camera: str) -> Profile:
    for profile in profiles:
        if wanted in (profile.token, profile.name):
            return profile
    names = ", ".join(f"{p.name} ({p.token})" for p in profiles) or "none with video"
    raise OnvifError(f"{camera} has no profile {wanted!r}; its profiles: {names}")


def _media2_token(profile: Profile) -> str:
    return f"<tr2:ConfigurationToken>{_xml(profile.encoder_token)}</tr2:ConfigurationToken>"


async def _media2_options(media2: "Media2", profile: Profile, encoding: str, step: _Step) -> EncoderOptions:
    step.name = "Media2 GetVideoEncoderConfigurationOptions"
    answer = await media2.call("GetVideoEncoderConfigurationOptions", _media2_token(profile))
    options = list(answer.iterfind("tr2:GetVideoEncoderConfigurationOptionsResponse/tr2:Options", NS))
    chosen = [o for o in options if o.findtext("tt:Encoding", "", NS) == encoding]
    sizes = tuple((int(r.findtext("tt:Width", "0", NS)), int(r.findtext("tt:Height", "0", NS)))
                  for o in chosen for r in o.iterfind("tt:ResolutionsAvailable", NS))  # fmt: skip
    gov_range = chosen[0].get("GovLengthRange", "") if chosen else ""
    return EncoderOptions(tuple(dict.fromkeys(o.findtext("tt:Encoding", "", NS) for o in options)),
                          _range(gov_range.split()) if gov_range else (1, 1 << 16), sizes)  # fmt: skip


async def _media2_set(media2: "Media2", profile: Profile, change: EncoderChange, step: _Step) -> None:
    step.name = "Media2 GetVideoEncoderConfigurations"
    current = await media2.call("GetVideoEncoderConfigurations", _media2_token(profile))
    configuration = current.find("tr2:GetVideoEncoderConfigurationsResponse/tr2:Configurations", NS)
    encoding, (width, height), gov = change.after
    if gov:
        configuration.set("GovLength", str(gov))
    configuration.find("tt:Encoding", NS).text = encoding
    configuration.find("tt:Resolution/tt:Width", NS).text = str(width)
    configuration.find("tt:Resolution/tt:Height", NS).text = str(height)
    configuration.tag = f"{{{MEDIA2}}}Configuration"
    step.name = "Media2 SetVideoEncoderConfiguration"
    await media2.call("SetVideoEncoderConfiguration", ET.tostring(configuration, encoding="unicode"))


async def _media1_options(media, profile: Profile, encoding: str, step: _Step) -> EncoderOptions:
    step.name = "GetVideoEncoderConfigurationOptions"
    options = await media.GetVideoEncoderConfigurationOptions({"ConfigurationToken": profile.encoder_token})
    encodings = tuple(name for name in ("H264", "MPEG4", "JPEG") if getattr(options, name, None) is not None)
    codec = getattr(options, encoding, None) if encoding in encodings else None
    gov_range = getattr(codec, "GovLengthRange", None) if codec is not None else None
    sizes = tuple((int(r.Width), int(r.Height)) for r in (getattr(codec, "ResolutionsAvailable", None) or []))
    return EncoderOptions(encodings, _range((gov_range.Min, gov_range.Max)) if gov_range is not None else (1, 1 << 16), sizes)


async def _media1_set(media, profile: Profile, change: EncoderChange, step: _Step) -> None:
    step.name = "GetVideoEncoderConfiguration"
    configuration = await media.GetVideoEncoderConfiguration({"ConfigurationToken": profile.encoder_token})
    encoding, (width, height), gov = change.after
    configuration.Encoding = encoding
    configuration.Resolution.Width, configuration.Resolution.Height = width, height
    if gov and getattr(configuration, encoding, None) is not None:
        getattr(configuration, encoding).GovLength = gov
    step.name = "SetVideoEncoderConfiguration"
    await media.SetVideoEncoderConfiguration({"Configuration": configuration, "ForcePersistence": True})


def _range(bounds) -> tuple[int, int]:
    low, high = (int(b) for b in bounds)
    return low, high


# Media (ver10), through the library --------------------------------------------------------------
async def _media1_profiles(camera, step: _Step) -> list[Profile]:
    media = await camera.create_media_service()
    step.name = "GetProfiles"
    profiles = []
    for profile in await media.GetProfiles() or []:
        encoder = profile.VideoEncoderConfiguration
        if encoder is None:
            continue
        step.name = "GetStreamUri"
        stream = await media.GetStreamUri({"StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
                                           "ProfileToken": profile.token})  # fmt: skip
        step.name = "GetSnapshotUri"
        snapshot = await _optional(media.GetSnapshotUri({"ProfileToken": profile.token}))
        rate = encoder.RateControl
        codec = getattr(encoder, str(encoder.Encoding), None) if encoder.Encoding in ("H264", "MPEG4") else None
        profiles.append(Profile(
            token=profile.token, name=str(profile.Name or profile.token), encoding=str(encoder.Encoding),
            width=int(encoder.Resolution.Width), height=int(encoder.Resolution.Height),
            fps=float(rate.FrameRateLimit) / max(int(rate.EncodingInterval or 1), 1) if rate else None,
            gov_length=int(codec.GovLength) if codec is not None and codec.GovLength else None,
            bitrate_kbps=int(rate.BitrateLimit) if rate and rate.BitrateLimit else None,
            stream_uri=without_credentials(str(stream.Uri)),
            snapshot_uri=without_credentials(str(snapshot.Uri)) if snapshot is not None else None,
            encoder_token=str(encoder.token), media="media",
        ))  # fmt: skip
    return profiles


async def _optional(call):
    """A call some cameras refuse (snapshots): None instead of an error."""
    from zeep.exceptions import Fault

    try:
        return await call
    except Fault:
        return None


# Media2 (ver20), camgate's own requests ------------------------------------------------------------
async def _media2_profiles(client: "Media2", step: _Step) -> list[Profile]:
    step.name = "Media2 GetProfiles"
    body = await client.call("GetProfiles", "<tr2:Type>VideoEncoder</tr2:Type>")
    profiles = []
    for element in body.iterfind("tr2:GetProfilesResponse/tr2:Profiles", NS):
        encoder = element.find("tr2:Configurations/tr2:VideoEncoder", NS)
        if encoder is None:
            continue
        token = element.get("token", "")
        step.name = "Media2 GetStreamUri"
        uri = await client.call("GetStreamUri", f"<tr2:Protocol>RtspUnicast</tr2:Protocol><tr2:ProfileToken>{_xml(token)}</tr2:ProfileToken>")
        step.name = "Media2 GetSnapshotUri"
        snapshot = await client.optional("GetSnapshotUri", f"<tr2:ProfileToken>{_xml(token)}</tr2:ProfileToken>")
        rate = encoder.find("tt:RateControl", NS)
        profiles.append(Profile(
            token=token, name=element.findtext("tr2:Name", token, NS), encoding=encoder.findtext("tt:Encoding", "", NS),
            width=int(encoder.findtext("tt:Resolution/tt:Width", "0", NS)),
            height=int(encoder.findtext("tt:Resolution/tt:Height", "0", NS)),
            fps=float(rate.findtext("tt:FrameRateLimit", "0", NS)) or None if rate is not None else None,
            gov_length=int(encoder.get("GovLength")) if encoder.get("GovLength") else None,
            bitrate_kbps=int(rate.findtext("tt:BitrateLimit", "0", NS)) or None if rate is not None else None,
            stream_uri=without_credentials(uri.findtext("tr2:GetStreamUriResponse/tr2:Uri", "", NS)),
            snapshot_uri=without_credentials(snapshot.findtext("tr2:GetSnapshotUriResponse/tr2:Uri", "", NS)) if snapshot is not None else None,
            encoder_token=encoder.get("token", ""), media="media2",
        ))  # fmt: skip
    return profiles


class Media2:
    """SOAP 1.2 requests to a Media2 service, each with a fresh UsernameToken digest."""

    def __init__(self, xaddr: str, username: str, password: str, offset: timedelta):
        self.xaddr, self.username, self.password, self.offset = xaddr, username, password, offset

    async def call(self, operation: str, inner: str = "") -> ET.Element:
        """The response's Body; OnvifError carrying the camera's fault reason on a fault."""
        import aiohttp

        envelope = (
            f'<env:Envelope xmlns:env="{NS["env"]}" xmlns:tr2="{MEDIA2}" xmlns:tt="{NS["tt"]}">'
            f"<env:Header>{self.security()}</env:Header>"
            f"<env:Body><tr2:{operation}>{inner}</tr2:{operation}></env:Body></env:Envelope>"
        )
        headers = {"Content-Type": f'application/soap+xml; charset=utf-8; action="{MEDIA2}/{operation}"'}
        async with aiohttp.ClientSession() as session:
            async with session.post(self.xaddr, data=envelope.encode(), headers=headers) as response:
                text = await response.text()
        try:
            body = ET.fromstring(text).find("env:Body", NS)
        except ET.ParseError:
            body = None
        if body is None:
            raise OnvifError(f"Media2 {operation}: HTTP {response.status}, not a SOAP answer: {text[:200]!r}")
        fault = body.find("env:Fault", NS)
        if fault is not None:
            subcodes = " ".join(v.text or "" for v in fault.iterfind(".//env:Subcode/env:Value", NS))
            reason = fault.findtext("env:Reason/env:Text", "", NS)
            raise Media2Fault(f"Media2 {operation}: {subcodes} {reason}".strip())
        return body

    async def optional(self, operation: str, inner: str = "") -> ET.Element | None:
        try:
            return await self.call(operation, inner)
        except Media2Fault:
            return None

    def security(self) -> str:
        nonce = os.urandom(16)
        created = (datetime.now(timezone.utc) + self.offset).strftime("%Y-%m-%dT%H:%M:%SZ")
        digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + self.password.encode()).digest()).decode()
        return (
            f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}"><wsse:UsernameToken>'
            f"<wsse:Username>{_xml(self.username)}</wsse:Username>"
            f'<wsse:Password Type="{DIGEST}">{digest}</wsse:Password>'
            f'<wsse:Nonce EncodingType="{BASE64}">{base64.b64encode(nonce).decode()}</wsse:Nonce>'
            f"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"
        )


class Media2Fault(OnvifError):
    """The camera answered a Media2 request with a SOAP fault (NotAuthorized, InvalidArgVal...)."""


def _xml(text: str) -> str:
    return escape(text, {'"': "&quot;"})


def split_address(address: str) -> tuple[str, int]:
    """"192.168.1.20" or "192.168.1.20:8080" (a camera's `onvif` field, checked by the model) -> (host, port)."""
    host, _, port = address.rpartition(":") if address.count(":") == 1 else (address, "", "")
    return host or address, int(port) if port else ONVIF_PORT


def same_stream(a: str | None, b: str | None) -> bool:
    """Whether two RTSP URLs name the same stream (host case and the default port aside)."""
    if not a or not b:
        return False
    x, y = urlsplit(a), urlsplit(b)
    return ((x.scheme, (x.hostname or "").lower(), x.port or RTSP_PORT, x.path or "/", x.query)
            == (y.scheme, (y.hostname or "").lower(), y.port or RTSP_PORT, y.path or "/", y.query))  # fmt: skip


def main_and_sub(profiles: tuple[Profile, ...]) -> tuple[Profile | None, Profile | None]:
    """The profiles a site pulls: the largest H.264/H.265 picture as main, the smallest other one
    with its own stream as sub (None when the camera has one stream)."""
    usable = sorted((p for p in profiles if p.encoding in HLS_CODECS and p.stream_uri),
                    key=lambda p: p.width * p.height, reverse=True)  # fmt: skip
    if not usable:
        return None, None
    main = usable[0]
    others = [p for p in usable[1:] if not same_stream(p.stream_uri, main.stream_uri) and p.width * p.height < main.width * main.height]
    return main, others[-1] if others else None


def without_credentials(uri: str) -> str:
    """Some cameras put user:password in the URIs they return: camgate keeps passwords out of URLs."""
    if not uri:
        return uri
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
