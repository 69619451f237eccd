"""An ACME server URL with an unbalanced '[' (urllib raises on it)."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com': field 'acme_server': 'https://[acme.example.com/directory' is not an https:// URL"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            acme_server="https://[acme.example.com/directory",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1"),
            ],
        )
    ),
]
