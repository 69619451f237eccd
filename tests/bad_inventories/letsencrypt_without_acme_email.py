"""Let's Encrypt without the contact address."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com': field 'acme_email': is required with tls='letsencrypt'"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1"),
            ],
        )
    ),
]
