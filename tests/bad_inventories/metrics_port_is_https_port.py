"""The metrics endpoint on the port the app's HTTPS already uses."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener, secrets_file

EXPECT = "host 'gw1.example.com': field 'metrics_port': overlaps 'https_port'"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            secrets_file=secrets_file("site.secrets.toml"),
            metrics_from=["198.51.100.7"],
            metrics_port=443,
            metrics_password_ref="secret:metrics",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1"),
            ],
        )
    ),
]
