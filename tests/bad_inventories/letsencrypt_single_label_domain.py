"""Let's Encrypt for a name without a dot."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com': field 'domain': 'gateway' has no dot and Let's Encrypt only certifies fully qualified names"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            domain="gateway",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1"),
            ],
        )
    ),
]
