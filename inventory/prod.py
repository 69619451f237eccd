"""Example inventory for a real site: copy it to inventory/<site>.py and edit. Every field is shown.

Deploy:    pyinfra inventory/prod.py deploy.py
Check:     camgate validate inventory/prod.py     (no host is touched)

Passwords never live here. `password_ref="secret:KEY"` reads KEY from the secrets file named by
`secrets_file` (TOML lines `KEY = "password"`, mode 0600, git-ignored: *.secrets.toml);
`password_ref="env:VAR"` reads the environment variable VAR of the machine running pyinfra.
Every value is validated when pyinfra loads this file: a mistake stops the run before any SSH
connection, with a line naming the host, the camera, the field and the fix.
"""

from pathlib import Path

from camgate.inventory import camera, gateway

HERE = Path(__file__).parent

gateways = [
    gateway(
        # How pyinfra reaches the gateway over SSH (name or address), and as whom.
        "gw1.example.com",
        ssh_user="root",
        # ssh_port=22,
        # ssh_key="~/.ssh/id_ed25519",
        # ssh_known_hosts_file="~/.ssh/known_hosts",   # pins the host key (strict checking)
        #
        # Name the app uses to reach the gateway (default: the host name above).
        domain="cams.example.com",
        # More names on the same certificate (all must point at this gateway in DNS).
        alt_domains=["cams-backup.example.com"],
        #
        # HTTPS. "letsencrypt" (default): certbot obtains and renews the certificate through port 80.
        # "selfsigned": a LAN-only site; the gateway makes its own CA, `camgate tls-ca` prints it for
        # the phones. "provided": your certificate, tls_certificate=/tls_key= paths on the gateway.
        # "off": plain HTTP, for local development only.
        tls="letsencrypt",
        acme_email="ops@example.com",  # Let's Encrypt writes here about expiry
        # acme_server="https://acme-staging-v02.api.letsencrypt.org/directory",  # staging while testing
        # acme_ca_bundle=HERE / "my-acme-ca.pem",  # only for an ACME CA with a private HTTPS certificate
        # tls_certificate="/etc/ssl/cams/fullchain.pem",  # tls="provided" only
        # tls_key="/etc/ssl/private/cams.key",            # tls="provided" only
        #
        # Ports: 80 answers ACME challenges and redirects to HTTPS; 443 serves the streams.
        http_port=80,
        https_port=443,
        # Live HLS lives in tmpfs below /run; systemd creates and cleans each camera's folder.
        hls_root="/run/camgate/hls",
        # Access-Control-Allow-Origin on stream responses: "*" or "https://app.example.com".
        cors_origin="*",
        # Recordings: a persistent folder, and a disk budget that wins over retention (oldest first).
        recordings_root="/var/lib/camgate/recordings",
        recordings_max_size="400G",  # None: no size cap
        recordings_min_free="5%",  # or "20G"
        #
        # Signed stream URLs: how long they live; the secret is made on the gateway unless you name
        # one in the secrets store (url_secret_ref="secret:url-signing").
        url_ttl=3600,
        hls_key_rotation=600,  # seconds between AES-128 keys for cameras with encrypt=True
        #
        # Host firewall (nftables): SSH, 80 and 443 in; SSH only from these networks (the deploying
        # machine is always allowed). [] allows SSH from anywhere.
        firewall=True,
        ssh_allow_from=["203.0.113.0/24"],
        hide_processes=True,  # /proc hidepid: other users cannot read camera URLs from ps
        #
        # WebRTC (cameras with webrtc="main"/"sub"): camgate-webrtc's ICE ports and coturn's TURN, TURN over
        # TLS and relay ports, all opened in the firewall; how many viewers at once.
        webrtc_ports="40000-40999",
        turn_port=3478,
        turns_port=5349,
        turn_relay_ports="49152-49999",
        webrtc_max_viewers=100,
        webrtc_max_viewers_per_user=16,
        #
        # Prometheus metrics (docs/metrics.md): https://<domain>:9100/metrics for these sources only,
        # with this user and the password whose *hash* is in the secrets file. [] serves no metrics.
        metrics_from=["198.51.100.7"],
        metrics_port=9100,
        metrics_user="prometheus",
        metrics_password_ref="secret:metrics",
        #
        # Caching edges (docs/edges.md) when viewers outgrow the uplink: hosts elsewhere running
        # nginx's cache, which check the same signed URLs; the manifest then hands out their names.
        # Needs url_secret_ref (the edges share the URL secret) and, below, `edges = edges_of(gateways)`.
        # edges=[edge("edge1.example.com", domain="live.example.com", address="198.51.100.20",
        #             secret_ref="secret:edge1-origin", acme_email="ops@example.com",
        #             metrics_from=["192.0.2.50"], metrics_password_ref="secret:metrics",
        #             secrets_file=HERE / "prod.secrets.toml")],
        # origin_port=8443,          # where edges fetch, open to their addresses only
        # origin_address=None,       # e.g. a VPN address; default: the domain as DNS resolves it
        # edge_choice="user",        # one edge per app user ("camera": one per camera)
        #
        # App users: who may sign in to the app and see which cameras. password_ref names a
        # *hash* from `camgate hash-password` in the secrets file, never the password.
        app_users=[
            {"name": "alice", "password_ref": "secret:app-alice", "cameras": ["*"]},
            {"name": "guard", "password_ref": "secret:app-guard", "cameras": ["front-door"]},
        ],
        # Where `secret:` references are read from (on the machine running pyinfra).
        secrets_file=HERE / "prod.secrets.toml",
        cameras=[
            camera(
                "front-door",  # id: slug used in unit names, paths and URLs
                name="Front door",  # display name for the app
                url="rtsp://192.168.10.21:554/Streaming/Channels/101",  # no credentials in the URL
                username="admin",
                password_ref="secret:front-door",
                transport="tcp",  # tcp (default) or udp
                audio="aac",  # copy (camera sends AAC), aac (transcode, e.g. G.711), none
                hls_time=2,  # seconds per segment, cut at keyframes: match the camera's GOP
                hls_list_size=6,  # segments in the live playlist
                rtsp_timeout=5,  # seconds without data before ffmpeg gives up and restarts
                bitrate_kbps=4000,  # estimate for `camgate plan` until `camgate probe` measures it
                record=True,  # keep recordings, from the same RTSP connection as live
                retention="14d",  # 30m, 12h, 7d ...; the disk budget below may delete sooner
                record_segment=60,  # seconds per recording file
                encrypt=False,  # AES-128 segments (keys rotate, served under the signed path)
                # Live view under a second over WebRTC: off, main or sub (H.264 only); its audio:
                # opus (transcoded), pcma/pcmu (the camera's G.711 untouched: see camgate probe), none.
                webrtc="main",
                webrtc_audio="pcma",
                enabled=True,  # False removes it from the gateway but keeps it here
            ),
            camera(
                "yard",
                name="Yard",
                url="rtsp://192.168.10.22:554/cam/realmonitor?channel=1&subtype=0",
                username="viewer",
                password_ref="env:YARD_CAMERA_PASSWORD",
                audio="none",
            ),
        ],
    ),
]
