"""An IPv6 address as the domain: https://fd00::1 is no URL."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com': field 'domain': 'fd00::1' is an IPv6 address"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            tls="selfsigned",
            domain="fd00::1",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1"),
            ],
        )
    ),
]
