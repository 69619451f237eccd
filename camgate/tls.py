"""TLS choices shared by the roles, the CLI and the tests: where certificates live on the gateway,
when one must be (re)issued, and the nginx settings for each nginx version."""

from __future__ import annotations

import hashlib
import re
import ssl
from datetime import datetime, timedelta, timezone

from camgate import paths
from camgate.model import Gateway

SELFSIGNED_DAYS = 825  # the longest validity iOS accepts for a server certificate
RENEW_BEFORE = timedelta(days=30)

# Mozilla "intermediate" (TLS 1.2 + 1.3). The DHE suites are left out: they need a dhparam file and
# every client camgate serves (iOS, Android, browsers, ffmpeg) speaks ECDHE.
MOZILLA_INTERMEDIATE_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    )
)
HSTS = "max-age=63072000"


def parse_certificate_text(text: str) -> dict | None:
    """Parse `openssl x509 -noout -serial -enddate -ext subjectAltName` output."""
    if not text.strip():
        return None
    serial = re.search(r"^serial=([0-9A-Fa-f]+)", text, re.M)
    end = re.search(r"^notAfter=(.+)$", text, re.M)
    names = []
    for kind, value in re.findall(r"(DNS|IP Address):([^,\s]+)", text):
        names.append(value)
    return {
        "names": names,
        "serial": serial.group(1).upper() if serial else None,
        "not_after": end.group(1).strip() if end else None,
    }


def certificate_fingerprint(pem: str) -> str:
    """SHA-256 fingerprint of a PEM certificate, as browsers and phones show it (AB:CD:...)."""
    digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem.strip() + "\n")).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def expires_soon(not_after: str | None, now: datetime | None = None) -> bool:
    """True when an openssl notAfter date ('Nov 25 12:00:00 2028 GMT') is within RENEW_BEFORE."""
    if not not_after:
        return True
    try:
        end = datetime.strptime(not_after, "%b %d %H:%M:%S %Y %Z").replace(tzinfo=timezone.utc)
    except ValueError:
        return True
    return end - (now or datetime.now(timezone.utc)) < RENEW_BEFORE


def certificate_matches(cert: dict | None, names: tuple[str, ...]) -> bool:
    """The certificate exists, carries exactly these names and is not about to expire."""
    return bool(cert) and set(cert["names"]) == set(names) and not expires_soon(cert["not_after"])


def acme_server_of(renewal_lines: list[str] | None) -> str | None:
    """The `server = URL` line of certbot's renewal config, if any."""
    for line in renewal_lines or ():
        key, _, value = line.partition("=")
        if key.strip() == "server":
            return value.strip()
    return None


def letsencrypt_needs_issuing(gateway: Gateway, cert: dict | None, renewal_lines: list[str] | None) -> bool:
    """certbot is called only for a missing lineage, a changed name list or a changed ACME server;
    expiry is certbot.timer's job."""
    if not cert or set(cert["names"]) != set(gateway.certificate_names):
        return True
    return acme_server_of(renewal_lines) != gateway.acme_server


def certbot_command(gateway: Gateway) -> list[str]:
    argv = [
        "certbot", "certonly", "--non-interactive", "--agree-tos", "--no-eff-email",
        "--email", gateway.acme_email or "",
        "--server", gateway.acme_server,
        "--webroot", "--webroot-path", paths.ACME_WEBROOT,
        "--cert-name", paths.CERTBOT_CERT_NAME,
        "--key-type", "ecdsa",
    ]  # fmt: skip
    for name in gateway.certificate_names:
        argv += ["-d", name]
    return argv


def wanted_tls_dir(gateway: Gateway, letsencrypt_ready: bool) -> str | None:
    """Which directory paths.TLS_CURRENT must point at for this gateway (None: no TLS)."""
    if gateway.tls == "off":
        return None
    if gateway.tls == "provided":
        return paths.TLS_PROVIDED
    if gateway.tls == "letsencrypt" and letsencrypt_ready:
        return paths.LETSENCRYPT_LIVE
    return paths.TLS_SELFSIGNED  # selfsigned, and letsencrypt's placeholder until the first issuance


def nginx_http2_style(nginx_version: tuple[int, int, int]) -> str:
    """nginx >= 1.25.1 wants `http2 on;`; older ones (1.18, 1.22, 1.24) `listen ... ssl http2`."""
    return "directive" if nginx_version >= (1, 25, 1) else "listen"


# nginx shipped by each release we support, for a first deploy where nginx is not installed yet.
DISTRO_NGINX_VERSION = {
    ("debian", "11"): (1, 18, 0),
    ("debian", "12"): (1, 22, 1),
    ("debian", "13"): (1, 26, 3),
    ("ubuntu", "20.04"): (1, 17, 10),
    ("ubuntu", "22.04"): (1, 18, 0),
    ("ubuntu", "24.04"): (1, 24, 0),
}
# Releases whose archive has no njs module for their nginx (libnginx-mod-http-js): the app's API
# (manifest, recordings, status) needs it, so a deploy there stops before touching anything.
RELEASES_WITHOUT_NJS = {("debian", "11"), ("ubuntu", "20.04"), ("ubuntu", "22.04")}


def njs_missing(distro_id: str | None, release: str | None) -> bool:
    key = ((distro_id or "").lower(), str(release or ""))
    if key[0] == "debian":
        key = (key[0], key[1].split(".")[0])
    return key in RELEASES_WITHOUT_NJS


def nginx_version(installed: str | None, distro_id: str | None, release: str | None) -> tuple[int, int, int]:
    """The nginx version the config is written for: the installed one, else the distribution's."""
    match = re.match(r"^(?:\d+:)?(\d+)\.(\d+)\.(\d+)", installed or "")
    if match:
        return tuple(int(g) for g in match.groups())  # type: ignore[return-value]
    key = ((distro_id or "").lower(), str(release or "").split(".")[0] if distro_id == "debian" else str(release or ""))
    return DISTRO_NGINX_VERSION.get(key, (1, 26, 0))
