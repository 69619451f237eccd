"""Every path and unit name camgate uses on a gateway, named once.

The roles, the templates (as ``paths.NAME``), the CLI and the checks read them from here; the live
HLS and recordings roots are inventory fields (``hls_root``, ``recordings_root``) and are not here.
"""

from __future__ import annotations

# Folders camgate owns.
ETC = "/etc/camgate"
CREDENTIALS_DIR = f"{ETC}/credentials"  # 0700 root: one RTSP URL with credentials per camera
UPLOAD_DIR = f"{ETC}/upload"  # 0700 root: where archives of many files pass through (roles.operations.put_files)
LIB = "/usr/local/lib/camgate"  # the scripts below
UNIT_DIR = "/etc/systemd/system"

# Cameras (roles/cameras.py).
CAMERA_UNIT_PREFIX = "camgate-camera-"
CAMERA_UNIT_GLOB = f"{CAMERA_UNIT_PREFIX}*.service"
CAMERA_LAUNCHER = f"{LIB}/camgate-camera-run"
HLS_KEY_SCRIPT = f"{LIB}/camgate-hls-key"
HLS_KEYS_SERVICE = "camgate-hls-keys.service"
HLS_KEYS_TIMER = "camgate-hls-keys.timer"

# Process hiding (roles/base.py).
HIDEPID_SERVICE = "camgate-hidepid.service"

# Health (roles/health.py; camgate/gateway/health.py runs there).
HEALTH_SCRIPT = f"{LIB}/camgate-health"
HEALTH_CONFIG = f"{ETC}/health.json"
HEALTH_RUNTIME_DIR = "camgate/health"  # below /run, made by the health unit
HEALTH_STATUS_FILE = f"/run/{HEALTH_RUNTIME_DIR}/status.json"  # read by GET /api/status
HEALTH_SERVICE = "camgate-health.service"
HEALTH_TIMER = "camgate-health.timer"

# camgate/gateway/media.py, beside the scripts that import it (the health script).
MEDIA_MODULE = f"{LIB}/camgate_media.py"

# Recordings retention (roles/recordings.py; camgate/gateway/retention.py runs there).
RETENTION_SCRIPT = f"{LIB}/camgate-retention"
RETENTION_CONFIG = f"{ETC}/retention.json"
RETENTION_SERVICE = "camgate-retention.service"
RETENTION_TIMER = "camgate-retention.timer"

# Retention's summary of the store, for the metrics (written at every retention run).
RETENTION_RUNTIME_DIR = "camgate/retention"  # below /run, made by the retention unit
RETENTION_SUMMARY_FILE = f"/run/{RETENTION_RUNTIME_DIR}/summary.json"

# Metrics (roles/metrics.py; camgate/gateway/metrics.py runs there after every health run).
# The distribution's node exporter serves them on loopback (its textfile collector reads
# METRICS_FILE); nginx serves them to the inventory's metrics_from on metrics_port.
METRICS_SCRIPT = f"{LIB}/camgate-metrics"
METRICS_CONFIG = f"{ETC}/metrics.json"
METRICS_RUNTIME_DIR = "camgate/metrics"  # below /run, made by the metrics unit; node exporter reads it
METRICS_TEXTFILE_DIR = f"/run/{METRICS_RUNTIME_DIR}"
METRICS_FILE = f"{METRICS_TEXTFILE_DIR}/camgate.prom"
METRICS_SERVICE = "camgate-metrics.service"
NODE_EXPORTER_SERVICE = "prometheus-node-exporter.service"
NODE_EXPORTER_DROPIN = f"{UNIT_DIR}/prometheus-node-exporter.service.d/camgate.conf"
NODE_EXPORTER_PORT = 9101  # on 127.0.0.1 only: nginx proxies metrics_port to it
# On an edge, where no health timer runs, a timer of its own runs the metrics unit.
METRICS_TIMER = "camgate-metrics.timer"
# An edge's traffic (cache status, its gateways' answers): the distribution's mtail reads the edge's
# access log with camgate's program and serves counters on loopback; nginx serves them on metrics_port.
MTAIL_SERVICE = "mtail.service"
MTAIL_DROPIN = f"{UNIT_DIR}/mtail.service.d/camgate.conf"
MTAIL_PROGRAM = "/etc/mtail/camgate-edge.mtail"
MTAIL_PORT = 3903
# What the last complete deploy left (camgate's version and the inventory's digest); its mtime is
# when a deploy last changed the gateway's declared configuration.
DEPLOY_STAMP = f"{ETC}/deployed.json"

# Firewall (roles/firewall.py).
FIREWALL_TABLE = "camgate"  # `table inet camgate`: the only table the role creates, reloads or deletes
FIREWALL_RULESET = f"{ETC}/firewall.nft"  # what the unit loads (the last good ruleset)
FIREWALL_STAGED = f"{ETC}/firewall.nft.staged"  # checked with `nft -c` before it goes live
FIREWALL_SERVICE = "camgate-firewall.service"
FIREWALL_APPLY = f"{LIB}/camgate-firewall-apply"
NFT = "/usr/sbin/nft"

# nginx (roles/nginx.py).
NGINX_SITE = "/etc/nginx/conf.d/camgate.conf"
NGINX_DEFAULT_SITE = "/etc/nginx/sites-enabled/default"
NGINX_STAGING_DIR = f"{ETC}/nginx"  # the next site, module and htpasswd, applied together
NGINX_CAMGATE_DIR = "/etc/nginx/camgate"
NJS_MODULE = f"{NGINX_CAMGATE_DIR}/camgate.js"
HTPASSWD = f"{NGINX_CAMGATE_DIR}/app-users.htpasswd"
METRICS_HTPASSWD = f"{NGINX_CAMGATE_DIR}/metrics.htpasswd"  # the metrics user (metrics_password_ref)
LINK_SECRET_CONF = f"{NGINX_CAMGATE_DIR}/link-secret.conf"  # 0600 root: the URL signing secret
# Caching edges (docs/edges.md). On a gateway: the edges' credentials (a map, 0600 root) and the
# log of their requests. On an edge: its site, the gateways' URL secrets and its own credential
# (0600 root), the CA it trusts for the gateways, its cache.
EDGE_KEYS_CONF = f"{NGINX_CAMGATE_DIR}/edge-keys.conf"
ORIGIN_ACCESS_LOG = "/var/log/nginx/camgate-origin.log"
EDGE_SECRETS_CONF = f"{NGINX_CAMGATE_DIR}/edge-secrets.conf"
EDGE_ORIGIN_CA = f"{NGINX_CAMGATE_DIR}/origin-ca.pem"
EDGE_CACHE_DIR = "/var/cache/camgate/edge"
EDGE_ACCESS_LOG = "/var/log/nginx/camgate-edge.log"
EDGE_HEADER = "X-Camgate-Edge"
SYSTEM_CAS = "/etc/ssl/certs/ca-certificates.crt"  # Debian's ca-certificates bundle
NGINX_APPLY = f"{LIB}/camgate-nginx-apply"
LINK_SECRET_SCRIPT = f"{LIB}/camgate-link-secret"

# TLS (roles/tls.py, roles/letsencrypt.py). nginx always reads TLS_CURRENT/{fullchain,privkey}.pem;
# TLS_CURRENT is a symlink switched between the folders below, never to a missing certificate.
TLS_DIR = f"{ETC}/tls"
TLS_CURRENT = f"{TLS_DIR}/current"
TLS_SELFSIGNED = f"{TLS_DIR}/selfsigned"
TLS_SELFSIGNED_CA = f"{TLS_DIR}/selfsigned-ca"
TLS_PROVIDED = f"{TLS_DIR}/provided"
TLS_SELFSIGNED_SCRIPT = f"{LIB}/camgate-tls-selfsigned"
TLS_USE_SCRIPT = f"{LIB}/camgate-tls-use"
ACME_WEBROOT = "/var/lib/camgate/acme"
ACME_CA_BUNDLE = f"{ETC}/acme-ca.pem"
CERTBOT_CERT_NAME = "camgate"
LETSENCRYPT_LIVE = f"/etc/letsencrypt/live/{CERTBOT_CERT_NAME}"
LETSENCRYPT_RENEWAL_DIR = "/etc/letsencrypt/renewal"
LETSENCRYPT_RENEWAL_CONF = f"{LETSENCRYPT_RENEWAL_DIR}/{CERTBOT_CERT_NAME}.conf"
LETSENCRYPT_RENEWAL_HOOK = "/etc/letsencrypt/renewal-hooks/deploy/camgate-reload-nginx"
CERTBOT_DROPIN = f"{UNIT_DIR}/certbot.service.d/camgate.conf"
CERTBOT_TIMER = "certbot.timer"


# WebRTC (roles/webrtc.py: camgate/gateway/webrtc.py on GStreamer's webrtcbin; roles/turn.py: coturn).
# Janus served WebRTC before (camgate until 2026-12); a deploy stops it and removes what camgate left.
OLD_JANUS_SERVICE = "janus.service"
OLD_JANUS_FILES = (f"{UNIT_DIR}/janus.service.d", f"{ETC}/janus", f"{ETC}/janus.staged", f"{LIB}/camgate-janus-apply")
WEBRTC_SECRETS = f"{ETC}/webrtc.env"  # 0600 root: the TURN secret (EnvironmentFile of camgate-webrtc and coturn)
WEBRTC_SECRETS_SCRIPT = f"{LIB}/camgate-webrtc-secrets"
TURN_SECRET_CONF = f"{NGINX_CAMGATE_DIR}/turn-secret.conf"  # 0600 root: the TURN secret, for the manifest
WEBRTC_SCRIPT = f"{LIB}/camgate-webrtc"
WHEP_MODULE = f"{LIB}/camgate_whep.py"  # camgate/gateway/whep.py, imported by camgate-webrtc
WEBRTC_CONFIG = f"{ETC}/webrtc.json"
WEBRTC_SERVICE = "camgate-webrtc.service"
WEBRTC_PORT = 8086  # camgate-webrtc, on 127.0.0.1 only: nginx proxies /api/webrtc/ to it
WEBRTC_PUBLIC_PATH = "/api/webrtc"
COTURN_SERVICE = "coturn.service"
COTURN_CONFIG = "/etc/turnserver.conf"
COTURN_DROPIN = f"{UNIT_DIR}/coturn.service.d/camgate.conf"
COTURN_TLS_DIR = f"{ETC}/turn-tls"  # the gateway's certificate, readable by coturn's user


def unit_path(unit: str) -> str:
    return f"{UNIT_DIR}/{unit}"


def camera_unit(camera_id: str) -> str:
    return f"{CAMERA_UNIT_PREFIX}{camera_id}.service"


def camera_of_unit(unit: str) -> str:
    """'camgate-camera-front.service' -> 'front'."""
    return unit.removeprefix(CAMERA_UNIT_PREFIX).removesuffix(".service")


SUB_STREAM_SUFFIX = ".sub"  # camera ids hold no dots, so '<id>.sub' names nothing else


def sub_stream_id(camera_id: str) -> str:
    return f"{camera_id}{SUB_STREAM_SUFFIX}"


def credentials_path(camera_id: str) -> str:
    return f"{CREDENTIALS_DIR}/{camera_id}.url"


def camera_hls_dir(hls_root: str, camera_id: str) -> str:
    return f"{hls_root}/{camera_id}"


def camera_recordings_dir(recordings_root: str, camera_id: str) -> str:
    return f"{recordings_root}/{camera_id}"


# Where each gateway-side module lands (camgate/gateway/<name>.py -> path on the gateway).
GATEWAY_CODE = {
    "health": HEALTH_SCRIPT,
    "retention": RETENTION_SCRIPT,
    "media": MEDIA_MODULE,
    "webrtc": WEBRTC_SCRIPT,
    "whep": WHEP_MODULE,
    "metrics": METRICS_SCRIPT,
}
