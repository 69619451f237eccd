"""Let's Encrypt for an IP address (ACME CAs certify DNS names only)."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com': field 'domain': '203.0.113.10' is an IP address and ACME CAs only certify DNS names"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            domain="203.0.113.10",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1"),
            ],
        )
    ),
]
