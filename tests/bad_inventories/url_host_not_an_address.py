"""A camera URL whose host is a mistyped IPv4 address (300 > 255)."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front': field 'url': host '192.168.10.300' is not a valid hostname or IP address; fix: use e.g. 192.168.1.20"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front", url="rtsp://192.168.10.300/stream1"),
            ],
        )
    ),
]
