"""The distribution packages a gateway gets, by the concern (role) that needs them.

Packages whose service must find camgate's configuration in place at its first start (coturn,
node exporter, mtail) are installed after that configuration. The others need nothing beforehand:
the base role installs all of those a gateway needs in one apt run (one download, one dpkg run, its
triggers once), and their roles then find them installed. Node exporter's and mtail's first-start
files need nothing else, so deploy.py puts them before that run and it installs those packages too
(first_start_files); coturn's need the certificate and the WebRTC secrets, and its role installs it.
The WebRTC engine's packages (GStreamer) start no service: they come with the one apt run.
"""

from __future__ import annotations

from camgate import paths
from camgate.model import Edge, Gateway

PYTHON = ["python3"]  # the gateway-side helpers (camgate/gateway/) are standard-library Python
# `camgate verify` and `camgate rotate-url-secret` ask the host's nginx through curl on the host itself, as
# do docs/operations.md's checks; a minimal server image may not have it.
CURL = ["curl"]
NFTABLES = ["nftables"]
FFMPEG = ["ffmpeg"]
OPENSSL = ["openssl"]
NGINX = ["nginx", "libnginx-mod-http-js"]
CERTBOT = ["certbot"]
# camgate-webrtc: GStreamer's webrtcbin (plugins-bad) with libnice's ICE (gstreamer1.0-nice), the RTP
# (de)payloaders and udpsrc (good, base), through python3-gi; the same package names in Debian 12 and
# 13 and Ubuntu 24.04.
WEBRTC = [
    "python3-gi", "gir1.2-gstreamer-1.0", "gir1.2-gst-plugins-base-1.0", "gir1.2-gst-plugins-bad-1.0",
    "gstreamer1.0-plugins-base", "gstreamer1.0-plugins-good", "gstreamer1.0-plugins-bad", "gstreamer1.0-nice",
]
COTURN = ["coturn"]
NODE_EXPORTER = ["prometheus-node-exporter"]
MTAIL = ["mtail"]


def plain_packages(gateway: Gateway | Edge) -> list[str]:
    """What this gateway (or edge: no ffmpeg) needs that may be installed before any configuration, in one run."""
    wanted = PYTHON + CURL + NGINX + (FFMPEG if isinstance(gateway, Gateway) else [])
    if gateway.firewall:
        wanted += NFTABLES
    if gateway.https:
        wanted += OPENSSL
    if gateway.tls == "letsencrypt":
        wanted += CERTBOT
    if isinstance(gateway, Gateway) and gateway.webrtc_cameras:
        wanted += WEBRTC
    return wanted


def first_start_files(gateway: Gateway | Edge) -> dict[str, tuple[str, ...]]:
    """{package: the camgate files its service must find at its first start}, for the packages this
    gateway gets whose files need nothing but themselves (see the module's note)."""
    if not gateway.metrics:
        return {}
    files = {NODE_EXPORTER[0]: (paths.NODE_EXPORTER_DROPIN,)}
    if isinstance(gateway, Edge):
        files[MTAIL[0]] = (paths.MTAIL_DROPIN, paths.MTAIL_PROGRAM)
    return files
