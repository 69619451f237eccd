"""Segments of 0 seconds."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front': field 'hls_time': 0 is out of range; fix: use a whole number from 1 to 10 seconds"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1", hls_time=0),
            ],
        )
    ),
]
