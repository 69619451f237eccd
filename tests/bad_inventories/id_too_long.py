"""A camera id of 38 characters (at most 32)."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front-door-of-the-main-building-north': field 'id': 'front-door-of-the-main-building-north' is not a valid id; fix: use 1-32"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front-door-of-the-main-building-north", url="rtsp://192.168.10.21:554/stream1"),
            ],
        )
    ),
]
