"""A camera URL whose port is a word."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front': field 'url': 'rtsp://192.168.10.21:rtsp/stream1' is not a valid URL ("

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:rtsp/stream1"),
            ],
        )
    ),
]
