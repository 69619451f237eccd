#!/usr/bin/env python3
"""An ONVIF device simulator: the ONVIF face of a testbed fake camera (standard library only).

It answers camgate's operator-side ONVIF client (onvif-zeep-async for the device service and Media
ver10, camgate's own Media2 client) as real cameras do, pointing at fake_camera.py's RTSP streams:

    python3 onvif_device.py --address 10.231.0.1 --port 8080 --brand media2 --username admin \\
        --password-file /path/0600 --clock-offset 0 --state-file /path/state.json \\
        --profile main=rtsp://10.231.0.1:8554/cam1,H264,1280x720,25,50 \\
        --profile sub=rtsp://10.231.0.1:8554/cam1-sub,H264,640x360,25,50 \\
        --snapshot-uri http://10.231.0.1:8081/cam1.jpg [--discovery [--discovery-port 3702] \\
        [--discovery-kind onvif|printer|malformed]] [--stall OPERATION] [--lifetime SECONDS]

Prints "READY http://<address>:<port>/onvif/device_service (notes)" once it listens (--port 0: any
free port) and runs until SIGTERM or --lifetime. Brand media2 serves Device, Media and Media2 and
answers GetServices; brand media1, an older camera, serves Device and Media only and answers
GetServices with ActionNotSupported, so clients fall back to GetCapabilities. Every operation but
GetSystemDateAndTime needs a WS-Security PasswordDigest whose Created is within TOLERANCE of the
device clock (UTC + --clock-offset) and whose nonce is new. SOAP 1.2 faults (HTTP status):
    no Security header                401 env:Sender   ter:NotAuthorized
    wrong user/digest/Created/nonce   400 env:Sender   ter:NotAuthorized
    unknown operation                 400 env:Receiver ter:ActionNotSupported
    GovLength outside GOV_RANGE       400 env:Sender   ter:InvalidArgVal ter:ConfigModify
    unknown profile or configuration  400 env:Sender   ter:InvalidArgVal ter:NoProfile|ter:NoConfig
A Set changes GovLength, Encoding (H264; H265 too through Media2) and Resolution (one of SIZES up
to its largest profile's); other fields are accepted and ignored. --state-file follows the profiles,
and fake_camera.py --encoder-settings reads it, so the camera's RTSP stream follows the change.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import io
import itertools
import json
import os
import re
import select
import signal
import socket
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote
from xml.sax.saxutils import escape

NS = {
    "env": "http://www.w3.org/2003/05/soap-envelope",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tr2": "http://www.onvif.org/ver20/media/wsdl",
    "tt": "http://www.onvif.org/ver10/schema",
    "dn": "http://www.onvif.org/ver10/network/wsdl",
    "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "d": "http://schemas.xmlsoap.org/ws/2005/04/discovery",
}
DEVICE_PATH, MEDIA1_PATH, MEDIA2_PATH = "/onvif/device_service", "/onvif/media_service", "/onvif/media2_service"
TOLERANCE = dt.timedelta(seconds=5)
GOV_RANGE = (1, 400)
# The picture sizes every encoder offers (no larger than the camera's sensor, its largest profile).
SIZES = ((2560, 1440), (1920, 1080), (1280, 720), (640, 360), (384, 216))
PROFILE_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
ONVIF_TYPES = {(NS["dn"], "NetworkVideoTransmitter"), (NS["tds"], "Device")}
WSD_GROUP = "239.255.255.250"
# Linux's IP_MULTICAST_ALL, which Python's socket module does not name.
IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)


@dataclass(frozen=True)
class Brand:
    manufacturer: str
    model: str
    firmware: str
    media2: bool  # Media2 can only be advertised by GetServices, so the two come together


BRANDS = {
    "media2": Brand("Simulated Vendor A", "SIM-M2-4MP", "V5.7.3 build 240318", media2=True),
    "media1": Brand("Simulated Vendor B", "SIM-M1-2MP", "2.1.0.17 (170501)", media2=False),
}


@dataclass
class Profile:
    name: str
    uri: str
    encoding: str
    width: int
    height: int
    fps: int
    gov_length: int


def parse_profile(spec: str) -> Profile:
    """name=uri,H264|H265,WxH,fps,govlength -> Profile (argparse shows the error)."""
    try:
        name, rest = spec.split("=", 1)
        uri, encoding, size, fps, gov = rest.rsplit(",", 4)
        width, height = size.lower().split("x")
        profile = Profile(name, uri, encoding.upper(), int(width), int(height), int(fps), int(gov))
    except ValueError:
        profile = None
    if (profile is None or not PROFILE_NAME_RE.match(profile.name) or profile.encoding not in ("H264", "H265")
            or min(profile.width, profile.height, profile.fps) < 1
            or not GOV_RANGE[0] <= profile.gov_length <= GOV_RANGE[1]):
        raise argparse.ArgumentTypeError(
            f"{spec!r}: expected name=uri,H264|H265,WIDTHxHEIGHT,fps,govlength (name of letters, digits, _ or -;"
            f" govlength {GOV_RANGE[0]}..{GOV_RANGE[1]})")
    return profile


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Simulate one ONVIF camera in front of a fake RTSP camera.")
    parser.add_argument("--address", required=True, help="address to bind (only this one)")
    parser.add_argument("--port", type=int, default=8080, help="HTTP port (0: any free port)")
    parser.add_argument("--brand", choices=sorted(BRANDS), default="media2")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password-file", required=True, help="file holding the password (mode 0600)")
    parser.add_argument("--clock-offset", type=float, default=0.0, help="device clock minus real UTC, seconds")
    parser.add_argument("--profile", type=parse_profile, action="append", default=[],
                        help="name=uri,H264|H265,WxH,fps,govlength; repeat for each profile")
    parser.add_argument("--snapshot-uri", help="answer to GetSnapshotUri (else the operation is not supported)")
    parser.add_argument("--state-file", help="JSON file kept up to date with the profiles' settings")
    parser.add_argument("--discovery", action="store_true", help="also answer WS-Discovery probes")
    parser.add_argument("--discovery-port", type=int, default=3702)
    parser.add_argument("--discovery-kind", choices=("onvif", "printer", "malformed"), default="onvif")
    parser.add_argument("--stall", metavar="OPERATION", help="never answer this operation")
    parser.add_argument("--lifetime", type=float, default=3600.0, help="stop by itself after this many seconds")
    args = parser.parse_args(argv)
    names = [profile.name for profile in args.profile]
    if len(set(names)) != len(names):
        parser.error(f"--profile names must differ: {names}")
    return args


def read_password(path: str) -> str:
    with open(path) as handle:
        return handle.read().rstrip("\n")


class SoapFault(Exception):
    def __init__(self, reason: str, *subcodes: str, code: str = "env:Sender", status: int = 400):
        super().__init__(reason)
        self.reason, self.subcodes, self.code, self.status = reason, subcodes, code, status


class Device:
    """The simulated camera: its settings, its clock and what it remembers between requests."""

    def __init__(self, args: argparse.Namespace, password: str, port: int):
        self.brand = BRANDS[args.brand]
        self.address, self.port = args.address, port
        self.username, self.password = args.username, password
        self.clock_offset = dt.timedelta(seconds=args.clock_offset)
        self.profiles = args.profile
        self.sensor_area = max((p.width * p.height for p in self.profiles), default=1920 * 1080)
        self.snapshot_uri, self.state_file, self.stall = args.snapshot_uri, args.state_file, args.stall
        self.routes = routes(self.brand)
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.nonces: dict[str, float] = {}
        self.mac = "02:" + ":".join(f"{b:02x}" for b in hashlib.sha1(self.url("").encode()).digest()[:5])
        self.endpoint = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, self.url(''))}"

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc) + self.clock_offset

    def url(self, path: str) -> str:
        return f"http://{self.address}:{self.port}{path}"

    def fresh_nonce(self, nonce: str) -> bool:
        """Remember the nonce; False if it was seen within the window a Created time stays valid."""
        with self.lock:
            now = time.monotonic()
            self.nonces = {n: seen for n, seen in self.nonces.items() if now - seen < 2 * TOLERANCE.total_seconds()}
            if nonce in self.nonces:
                return False
            self.nonces[nonce] = now
            return True

    def sizes(self) -> list[tuple[int, int]]:
        """The resolutions its encoders offer: the standard ones up to its largest profile's."""
        return [size for size in SIZES if size[0] * size[1] <= self.sensor_area] or [SIZES[-1]]

    def configure(self, profile: Profile, gov: str | None, encoding: str | None, width: str | None, height: str | None,
                  encodings: tuple[str, ...]) -> None:
        """A SetVideoEncoderConfiguration: check every value first (a fault changes nothing), then apply."""
        if gov is not None and (not gov.strip().isdigit() or not GOV_RANGE[0] <= int(gov) <= GOV_RANGE[1]):
            raise SoapFault(f"GovLength {gov} is outside GovLengthRange {GOV_RANGE[0]}..{GOV_RANGE[1]}",
                            "ter:InvalidArgVal", "ter:ConfigModify")
        if encoding is not None and encoding not in encodings:
            raise SoapFault(f"Encoding {encoding} is not supported", "ter:InvalidArgVal", "ter:ConfigModify")
        size = (int(width), int(height)) if width and height and width.isdigit() and height.isdigit() else None
        if (width or height) and size not in self.sizes():
            raise SoapFault(f"Resolution {width}x{height} is not available", "ter:InvalidArgVal", "ter:ConfigModify")
        with self.lock:
            if gov is not None:
                profile.gov_length = int(gov)
            if encoding is not None:
                profile.encoding = encoding
            if size is not None:
                profile.width, profile.height = size
        write_state(self)


def write_state(device: Device) -> None:
    if not device.state_file:
        return
    state = {"profiles": {p.name: {k: v for k, v in vars(p).items() if k != "name"} for p in device.profiles}}
    with device.lock:
        temporary = f"{device.state_file}.{os.getpid()}.tmp"
        with open(temporary, "w") as handle:
            json.dump(state, handle, indent=1)
        os.replace(temporary, device.state_file)


def check_digest(device: Device, envelope: ET.Element) -> str:
    """Return "ok", "missing" (no Security header) or why the request's UsernameToken is refused."""
    token = envelope.find("env:Header/wsse:Security/wsse:UsernameToken", NS)
    if token is None:
        return "missing"
    password = token.find("wsse:Password", NS)
    nonce, created = token.findtext("wsse:Nonce", "", NS).strip(), token.findtext("wsu:Created", "", NS).strip()
    if token.findtext("wsse:Username", "", NS).strip() != device.username:
        return "unknown user"
    if password is None or not password.get("Type", "").endswith("#PasswordDigest"):
        return "not a PasswordDigest"
    try:
        material = base64.b64decode(nonce) + created.encode() + device.password.encode()
        when = dt.datetime.fromisoformat(created)
    except ValueError:
        return "unreadable Nonce or Created"
    if base64.b64encode(hashlib.sha1(material).digest()).decode() != (password.text or "").strip():
        return "wrong digest"
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    if abs(when - device.now()) > TOLERANCE:
        return f"Created {created} too far from device time {device.now():%Y-%m-%dT%H:%M:%SZ}"
    if not device.fresh_nonce(nonce):
        return "replayed nonce"
    return "ok"


# --- SOAP response templates and renderers --------------------------------------------------------

ENVELOPE = """<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="{env}" xmlns:tds="{tds}" xmlns:trt="{trt}" xmlns:tr2="{tr2}" xmlns:tt="{tt}"
 xmlns:ter="http://www.onvif.org/ver10/error"><env:Body>{{body}}</env:Body></env:Envelope>""".format(**NS)
FAULT = """<env:Fault><env:Code><env:Value>{code}</env:Value>{subcodes}</env:Code>
<env:Reason><env:Text xml:lang="en">{reason}</env:Text></env:Reason></env:Fault>"""
DATE_TIME = """<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>
<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>
<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone><tt:UTCDateTime>
<tt:Time><tt:Hour>{t.hour}</tt:Hour><tt:Minute>{t.minute}</tt:Minute><tt:Second>{t.second}</tt:Second></tt:Time>
<tt:Date><tt:Year>{t.year}</tt:Year><tt:Month>{t.month}</tt:Month><tt:Day>{t.day}</tt:Day></tt:Date></tt:UTCDateTime>
</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"""
DEVICE_INFORMATION = """<tds:GetDeviceInformationResponse><tds:Manufacturer>{b.manufacturer}</tds:Manufacturer>
<tds:Model>{b.model}</tds:Model><tds:FirmwareVersion>{b.firmware}</tds:FirmwareVersion>
<tds:SerialNumber>{serial}</tds:SerialNumber><tds:HardwareId>{b.model}-HW</tds:HardwareId>
</tds:GetDeviceInformationResponse>"""
SERVICE = """<tds:Service><tds:Namespace>{namespace}</tds:Namespace><tds:XAddr>{xaddr}</tds:XAddr>
<tds:Version><tt:Major>{major}</tt:Major><tt:Minor>{minor}</tt:Minor></tds:Version></tds:Service>"""
CAPABILITIES = """<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Device><tt:XAddr>{device}</tt:XAddr></tt:Device>
<tt:Media><tt:XAddr>{media}</tt:XAddr><tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast>
<tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>
</tds:Capabilities></tds:GetCapabilitiesResponse>"""
VIDEO_SOURCE = """<{tag} token="vsc_1"><tt:Name>VideoSource</tt:Name><tt:UseCount>{count}</tt:UseCount>
<tt:SourceToken>vs_1</tt:SourceToken><tt:Bounds x="0" y="0" width="{width}" height="{height}"/></{tag}>"""
ENCODER1 = """<{tag} token="vec_{name}"><tt:Name>{name}</tt:Name><tt:UseCount>1</tt:UseCount>
<tt:Encoding>H264</tt:Encoding>
<tt:Resolution><tt:Width>{width}</tt:Width><tt:Height>{height}</tt:Height></tt:Resolution><tt:Quality>5</tt:Quality>
<tt:RateControl><tt:FrameRateLimit>{fps}</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval>
<tt:BitrateLimit>{kbps}</tt:BitrateLimit></tt:RateControl>
<tt:H264><tt:GovLength>{gov_length}</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264>
<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address>
<tt:Port>0</tt:Port><tt:TTL>1</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast>
<tt:SessionTimeout>PT60S</tt:SessionTimeout></{tag}>"""
ENCODER2 = """<{tag} token="vec_{name}" GovLength="{gov_length}" Profile="Main"><tt:Name>{name}</tt:Name>
<tt:UseCount>1</tt:UseCount><tt:Encoding>{encoding}</tt:Encoding>
<tt:Resolution><tt:Width>{width}</tt:Width><tt:Height>{height}</tt:Height></tt:Resolution>
<tt:RateControl ConstantBitRate="false"><tt:FrameRateLimit>{fps}</tt:FrameRateLimit>
<tt:BitrateLimit>{kbps}</tt:BitrateLimit></tt:RateControl><tt:Quality>5</tt:Quality></{tag}>"""
MEDIA_URI = """<trt:MediaUri><tt:Uri>{uri}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>
<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri>"""
RESOLUTION = "<tt:ResolutionsAvailable><tt:Width>{0}</tt:Width><tt:Height>{1}</tt:Height></tt:ResolutionsAvailable>"
RANGE = "<tt:{0}><tt:Min>{1}</tt:Min><tt:Max>{2}</tt:Max></tt:{0}>"
OPTIONS1_H264 = """<tt:H264>{resolutions}{gov}{fps}{interval}
<tt:H264ProfilesSupported>Main</tt:H264ProfilesSupported></tt:H264>"""
OPTIONS2 = """<tr2:Options GovLengthRange="{gov_min} {gov_max}" FrameRatesSupported="{rates}" ProfilesSupported="Main">
<tt:Encoding>{encoding}</tt:Encoding>{quality}{resolutions}{bitrate}</tr2:Options>"""


def render_fault(fault: SoapFault) -> str:
    subcodes = ""
    for subcode in reversed(fault.subcodes):
        subcodes = f"<env:Subcode><env:Value>{subcode}</env:Value>{subcodes}</env:Subcode>"
    return FAULT.format(code=fault.code, subcodes=subcodes, reason=escape(fault.reason))


def fill(template: str, profile: Profile, **extra) -> str:
    kbps = profile.width * profile.height * profile.fps // 10000
    return template.format(**{**vars(profile), "uri": escape(profile.uri), "kbps": kbps, **extra})


def render_video_source(device: Device, tag: str) -> str:
    width = max((p.width for p in device.profiles), default=1920)
    height = max((p.height for p in device.profiles), default=1080)
    return VIDEO_SOURCE.format(tag=tag, count=len(device.profiles), width=width, height=height)


def render_resolutions(device: Device) -> str:
    return "".join(RESOLUTION.format(*size) for size in device.sizes())


def render_options2(device: Device, encoding: str, profiles: list[Profile]) -> str:
    top = max(p.fps for p in profiles)
    rates = " ".join(str(r) for r in sorted({top, *(r for r in (25, 20, 15, 10, 5, 1) if r < top)}, reverse=True))
    return OPTIONS2.format(gov_min=GOV_RANGE[0], gov_max=GOV_RANGE[1], rates=rates, encoding=encoding,
                           quality=RANGE.format("QualityRange", 1, 6), resolutions=render_resolutions(device),
                           bitrate=RANGE.format("BitrateRange", 32, 16384))


# --- operations: each takes the device and the Body's first child, returns the response body -----

def text(request: ET.Element, path: str) -> str | None:
    value = request.findtext(path, None, NS)
    return value.strip() if value is not None else None


# Media ver10 has no H265 (tt:VideoEncoding is JPEG|MPEG4|H264), so a camera speaking only Media1
# cannot describe an H.265 stream; like many, this one leaves such profiles out of Media1 entirely:
# they appear only through Media2.
def media1_profiles(device: Device) -> list[Profile]:
    return [p for p in device.profiles if p.encoding == "H264"]


def find(profiles: list[Profile], token: str | None, prefix: str, missing: str) -> Profile:
    for profile in profiles:
        if token == f"{prefix}_{profile.name}":
            return profile
    raise SoapFault(f"no such token: {token}", "ter:InvalidArgVal", missing)


def selected(profiles: list[Profile], request: ET.Element, service: str) -> list[Profile]:
    """The profiles a request names by ConfigurationToken or ProfileToken; all of them if neither."""
    configuration, profile = text(request, f"{service}:ConfigurationToken"), text(request, f"{service}:ProfileToken")
    if configuration:
        return [find(profiles, configuration, "vec", "ter:NoConfig")]
    if profile:
        return [find(profiles, profile, "profile", "ter:NoProfile")]
    return profiles


def get_system_date_and_time(device: Device, _request: ET.Element) -> str:
    return DATE_TIME.format(t=device.now())


def get_device_information(device: Device, _request: ET.Element) -> str:
    return DEVICE_INFORMATION.format(b=device.brand, serial=f"SIM{device.port:05d}")


def get_services(device: Device, _request: ET.Element) -> str:
    services = [(NS["tds"], DEVICE_PATH), (NS["trt"], MEDIA1_PATH), (NS["tr2"], MEDIA2_PATH)]
    body = "".join(SERVICE.format(namespace=ns, xaddr=device.url(path), major=2, minor=60) for ns, path in services)
    return f"<tds:GetServicesResponse>{body}</tds:GetServicesResponse>"


def get_capabilities(device: Device, _request: ET.Element) -> str:
    return CAPABILITIES.format(device=device.url(DEVICE_PATH), media=device.url(MEDIA1_PATH))


def get_profiles1(device: Device, _request: ET.Element) -> str:
    source = render_video_source(device, "tt:VideoSourceConfiguration")
    body = "".join(f'<trt:Profiles token="profile_{p.name}" fixed="true"><tt:Name>{p.name}</tt:Name>{source}'
                   + fill(ENCODER1, p, tag="tt:VideoEncoderConfiguration") + "</trt:Profiles>"
                   for p in media1_profiles(device))
    return f"<trt:GetProfilesResponse>{body}</trt:GetProfilesResponse>"


def get_stream_uri1(device: Device, request: ET.Element) -> str:
    profile = find(media1_profiles(device), text(request, "trt:ProfileToken"), "profile", "ter:NoProfile")
    return f"<trt:GetStreamUriResponse>{fill(MEDIA_URI, profile)}</trt:GetStreamUriResponse>"


def snapshot_uri(device: Device, profiles: list[Profile], token: str | None) -> str:
    find(profiles, token, "profile", "ter:NoProfile")
    if not device.snapshot_uri:
        raise SoapFault("snapshots are not supported", "ter:ActionNotSupported", code="env:Receiver")
    return escape(device.snapshot_uri)


def get_snapshot_uri1(device: Device, request: ET.Element) -> str:
    uri = snapshot_uri(device, media1_profiles(device), text(request, "trt:ProfileToken"))
    return f"<trt:GetSnapshotUriResponse>{MEDIA_URI.format(uri=uri)}</trt:GetSnapshotUriResponse>"


def get_encoder_configurations1(device: Device, _request: ET.Element) -> str:
    body = "".join(fill(ENCODER1, p, tag="trt:Configurations") for p in media1_profiles(device))
    return f"<trt:GetVideoEncoderConfigurationsResponse>{body}</trt:GetVideoEncoderConfigurationsResponse>"


def get_encoder_configuration1(device: Device, request: ET.Element) -> str:
    profile = find(media1_profiles(device), text(request, "trt:ConfigurationToken"), "vec", "ter:NoConfig")
    return ("<trt:GetVideoEncoderConfigurationResponse>" + fill(ENCODER1, profile, tag="trt:Configuration")
            + "</trt:GetVideoEncoderConfigurationResponse>")


def get_encoder_options1(device: Device, request: ET.Element) -> str:
    profiles = selected(media1_profiles(device), request, "trt")
    h264 = OPTIONS1_H264.format(
        resolutions=render_resolutions(device), gov=RANGE.format("GovLengthRange", *GOV_RANGE),
        fps=RANGE.format("FrameRateRange", 1, max((p.fps for p in profiles), default=1)),
        interval=RANGE.format("EncodingIntervalRange", 1, 1)) if profiles else ""
    return ("<trt:GetVideoEncoderConfigurationOptionsResponse><trt:Options>" + RANGE.format("QualityRange", 1, 6)
            + h264 + "</trt:Options></trt:GetVideoEncoderConfigurationOptionsResponse>")


def set_encoder_configuration1(device: Device, request: ET.Element) -> str:
    configuration = request.find("trt:Configuration", NS)
    token = configuration.get("token") if configuration is not None else None
    profile = find(media1_profiles(device), token, "vec", "ter:NoConfig")
    device.configure(profile, text(configuration, "tt:H264/tt:GovLength"), text(configuration, "tt:Encoding"),
                     text(configuration, "tt:Resolution/tt:Width"), text(configuration, "tt:Resolution/tt:Height"), ("H264",))
    return "<trt:SetVideoEncoderConfigurationResponse/>"


def get_profiles2(device: Device, request: ET.Element) -> str:
    types = {t.text.strip() for t in request.findall("tr2:Type", NS) if t.text}
    source = render_video_source(device, "tr2:VideoSource") if types & {"All", "VideoSource"} else ""
    body = "".join(
        f'<tr2:Profiles token="profile_{p.name}" fixed="true"><tr2:Name>{p.name}</tr2:Name><tr2:Configurations>'
        + source + (fill(ENCODER2, p, tag="tr2:VideoEncoder") if types & {"All", "VideoEncoder"} else "")
        + "</tr2:Configurations></tr2:Profiles>" for p in device.profiles)
    return f"<tr2:GetProfilesResponse>{body}</tr2:GetProfilesResponse>"


def get_stream_uri2(device: Device, request: ET.Element) -> str:
    profile = find(device.profiles, text(request, "tr2:ProfileToken"), "profile", "ter:NoProfile")
    protocol = text(request, "tr2:Protocol")
    if protocol not in ("RtspUnicast", "RTSP"):
        raise SoapFault(f"stream protocol {protocol} is not supported", "ter:InvalidArgVal", "ter:InvalidStreamSetup")
    return f"<tr2:GetStreamUriResponse><tr2:Uri>{escape(profile.uri)}</tr2:Uri></tr2:GetStreamUriResponse>"


def get_snapshot_uri2(device: Device, request: ET.Element) -> str:
    uri = snapshot_uri(device, device.profiles, text(request, "tr2:ProfileToken"))
    return f"<tr2:GetSnapshotUriResponse><tr2:Uri>{uri}</tr2:Uri></tr2:GetSnapshotUriResponse>"


def get_encoder_configurations2(device: Device, request: ET.Element) -> str:
    body = "".join(fill(ENCODER2, p, tag="tr2:Configurations") for p in selected(device.profiles, request, "tr2"))
    return f"<tr2:GetVideoEncoderConfigurationsResponse>{body}</tr2:GetVideoEncoderConfigurationsResponse>"


# Every encoder of a Media2 camera offers both codecs, as current cameras do.
MEDIA2_ENCODINGS = ("H264", "H265")


def get_encoder_options2(device: Device, request: ET.Element) -> str:
    profiles = selected(device.profiles, request, "tr2")
    body = "".join(render_options2(device, e, profiles) for e in MEDIA2_ENCODINGS) if profiles else ""
    return f"<tr2:GetVideoEncoderConfigurationOptionsResponse>{body}</tr2:GetVideoEncoderConfigurationOptionsResponse>"


def set_encoder_configuration2(device: Device, request: ET.Element) -> str:
    configuration = request.find("tr2:Configuration", NS)
    token = configuration.get("token") if configuration is not None else None
    profile = find(device.profiles, token, "vec", "ter:NoConfig")
    device.configure(profile, configuration.get("GovLength"), text(configuration, "tt:Encoding"),
                     text(configuration, "tt:Resolution/tt:Width"), text(configuration, "tt:Resolution/tt:Height"), MEDIA2_ENCODINGS)
    return "<tr2:SetVideoEncoderConfigurationResponse/>"


DEVICE_OPS = {"GetSystemDateAndTime": get_system_date_and_time, "GetDeviceInformation": get_device_information,
              "GetCapabilities": get_capabilities}
MEDIA1_OPS = {"GetProfiles": get_profiles1, "GetStreamUri": get_stream_uri1, "GetSnapshotUri": get_snapshot_uri1,
              "GetVideoEncoderConfigurations": get_encoder_configurations1,
              "GetVideoEncoderConfiguration": get_encoder_configuration1,
              "GetVideoEncoderConfigurationOptions": get_encoder_options1,
              "SetVideoEncoderConfiguration": set_encoder_configuration1}
MEDIA2_OPS = {"GetProfiles": get_profiles2, "GetStreamUri": get_stream_uri2, "GetSnapshotUri": get_snapshot_uri2,
              "GetVideoEncoderConfigurations": get_encoder_configurations2,
              "GetVideoEncoderConfigurationOptions": get_encoder_options2,
              "SetVideoEncoderConfiguration": set_encoder_configuration2}
NO_AUTH = {"GetSystemDateAndTime"}


def routes(brand: Brand) -> dict[str, dict]:
    if not brand.media2:
        return {DEVICE_PATH: DEVICE_OPS, MEDIA1_PATH: MEDIA1_OPS}
    return {DEVICE_PATH: {**DEVICE_OPS, "GetServices": get_services}, MEDIA1_PATH: MEDIA1_OPS, MEDIA2_PATH: MEDIA2_OPS}


def client_gone(connection: socket.socket) -> bool:
    readable, _, _ = select.select([connection], [], [], 0)
    try:
        return bool(readable) and connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class SoapHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        device: Device = self.server.device
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        operation, auth = "?", "-"
        try:
            envelope = ET.fromstring(body)
            request = envelope.find("env:Body/*", NS)
            if request is None:
                raise SoapFault("no SOAP 1.2 Body", "ter:WellFormed")
            operation = request.tag.rpartition("}")[2]
            if operation not in NO_AUTH:
                auth = check_digest(device, envelope)
                if auth != "ok":
                    status = 401 if auth == "missing" else 400
                    raise SoapFault("Sender not Authorized", "ter:NotAuthorized", status=status)
            handler = device.routes.get(self.path, {}).get(operation)
            if handler is None:
                raise SoapFault(f"{operation} is not supported", "ter:ActionNotSupported", code="env:Receiver")
            if operation == device.stall:
                return self.stall(device, f"{operation} {self.path} auth={auth}")
            status, payload = 200, handler(device, request)
        except ET.ParseError:
            status, payload = 400, render_fault(SoapFault("XML not well formed", "ter:WellFormed"))
        except SoapFault as fault:
            status, payload = fault.status, render_fault(fault)
        self.log(f"{operation} {self.path} auth={auth} -> {status}")
        data = ENVELOPE.format(body=payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def stall(self, device: Device, request: str) -> None:
        """Answer nothing until the client gives up or the simulator stops."""
        self.log(f"{request} -> stalled")
        while not device.stopping.wait(0.5) and not client_gone(self.connection):
            pass
        self.log(f"{request} -> stall ended")

    def log(self, line: str) -> None:
        print(f"{self.client_address[0]} {line}", file=sys.stderr, flush=True)

    def log_message(self, format: str, *args) -> None:  # the per-request line comes from log()
        pass


# --- WS-Discovery (ONVIF's 2005/04 draft namespaces) ----------------------------------------------

PROBE_MATCHES = """<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="{env}" xmlns:wsa="{wsa}" xmlns:d="{d}" xmlns:dn="{dn}" xmlns:tds="{tds}"
 xmlns:wsdp="http://schemas.xmlsoap.org/ws/2006/02/devprof"
 xmlns:wprt="http://schemas.microsoft.com/windows/2006/08/wdp/print">
 <SOAP-ENV:Header><wsa:MessageID>urn:uuid:{{message_id}}</wsa:MessageID><wsa:RelatesTo>{{relates_to}}</wsa:RelatesTo>
  <wsa:To SOAP-ENV:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>
  <wsa:Action SOAP-ENV:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action>
  <d:AppSequence InstanceId="{{instance}}" MessageNumber="{{number}}"/></SOAP-ENV:Header>
 <SOAP-ENV:Body><d:ProbeMatches><d:ProbeMatch>
  <wsa:EndpointReference><wsa:Address>{{endpoint}}</wsa:Address></wsa:EndpointReference>
  <d:Types>{{types}}</d:Types><d:Scopes>{{scopes}}</d:Scopes><d:XAddrs>{{xaddrs}}</d:XAddrs>
  <d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></SOAP-ENV:Body>
</SOAP-ENV:Envelope>""".format(**NS)
INSTANCE_ID = int(time.time())
MESSAGE_NUMBERS = itertools.count(1)


def onvif_scopes(device: Device) -> str:
    brand = device.brand
    return " ".join(["onvif://www.onvif.org/type/video_encoder", "onvif://www.onvif.org/Profile/Streaming",
                     f"onvif://www.onvif.org/hardware/{quote(brand.model, safe='')}",
                     f"onvif://www.onvif.org/name/{quote(f'{brand.manufacturer} {brand.model}', safe='')}",
                     f"onvif://www.onvif.org/MAC/{device.mac}"])


def probe_types(data: bytes, probe: ET.Element) -> set[tuple[str | None, str]]:
    """The probe's Types as (namespace, local name), resolved with the prefixes the message declares."""
    prefixes = dict(prefix for _, prefix in ET.iterparse(io.BytesIO(data), events=("start-ns",)))
    names = (name.rpartition(":") for name in probe.findtext("d:Types", "", NS).split())
    return {(prefixes.get(prefix), local) for prefix, _, local in names}


def probe_answer(device: Device, data: bytes, kind: str) -> bytes | None:
    """The ProbeMatches for a datagram, or None when it is no Probe or asks for other types."""
    try:
        envelope = ET.fromstring(data)
    except ET.ParseError:
        return None
    probe, message_id = envelope.find("env:Body/d:Probe", NS), envelope.findtext("env:Header/wsa:MessageID", None, NS)
    if probe is None or not message_id:
        return None
    # A printer, like many non-camera WS-Discovery devices, answers every probe whatever its Types.
    if kind == "onvif" and not probe_types(data, probe) <= ONVIF_TYPES:
        return None
    if kind == "printer":
        endpoint = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, device.url('/printer'))}"
        types, scopes, xaddrs = "wsdp:Device wprt:PrintDeviceType", "", f"http://{device.address}:5357/{endpoint[9:]}"
    else:
        endpoint, types, scopes = device.endpoint, "dn:NetworkVideoTransmitter tds:Device", onvif_scopes(device)
        xaddrs = device.url(DEVICE_PATH)
    answer = PROBE_MATCHES.format(message_id=uuid.uuid4(), relates_to=escape(message_id.strip()), instance=INSTANCE_ID,
                                  number=next(MESSAGE_NUMBERS), endpoint=endpoint, types=types, scopes=scopes,
                                  xaddrs=xaddrs).encode()
    return answer[: len(answer) // 2] if kind == "malformed" else answer


def discovery_sockets(address: str, port: int) -> list[socket.socket]:
    """A socket for unicast probes (it also sends every answer, from the device's address) and, if
    the group can be joined on the address's interface, one for multicast probes."""
    unicast = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    unicast.bind((address, port))
    group = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        # A socket bound to a unicast address never sees datagrams sent to the group, hence this
        # second socket; several simulators on one machine share its address and port.
        group.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        group.bind((WSD_GROUP, unicast.getsockname()[1]))
        group.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                         socket.inet_aton(WSD_GROUP) + socket.inet_aton(address))
        # Only probes that arrive on this address's interface, not on any where some socket joined.
        group.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
    except OSError as exc:
        group.close()
        print(f"note: cannot join {WSD_GROUP} on {address} ({exc}); answering unicast probes only",
              file=sys.stderr, flush=True)
        return [unicast]
    return [unicast, group]


def serve_discovery(device: Device, sockets: list[socket.socket], kind: str) -> None:
    while not device.stopping.is_set():
        readable, _, _ = select.select(sockets, [], [], 0.5)
        for sock in readable:
            data, sender = sock.recvfrom(65535)
            answer = probe_answer(device, data, kind)
            if answer is not None:
                sockets[0].sendto(answer, sender)
            print(f"{sender[0]}:{sender[1]} WS-Discovery -> {'ProbeMatches ' + kind if answer else 'ignored'}",
                  file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    password = read_password(args.password_file)
    server = ThreadingHTTPServer((args.address, args.port), SoapHandler)
    device = server.device = Device(args, password, server.server_address[1])
    write_state(device)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    notes = [f"brand {args.brand}"]
    sockets, discovery = [], None
    if args.discovery:
        sockets = discovery_sockets(args.address, args.discovery_port)
        notes.append(f"discovery {args.discovery_kind} on udp {args.address}:{sockets[0].getsockname()[1]}")
        discovery = threading.Thread(target=serve_discovery, args=(device, sockets, args.discovery_kind), daemon=True)
        discovery.start()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: device.stopping.set())
    print(f"READY {device.url(DEVICE_PATH)} ({'; '.join(notes)})", flush=True)
    device.stopping.wait(args.lifetime)
    device.stopping.set()
    server.shutdown()
    server.server_close()
    if discovery is not None:
        discovery.join()
    for sock in sockets:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
