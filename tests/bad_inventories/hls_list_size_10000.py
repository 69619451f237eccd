"""A live playlist of 10000 segments."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front': field 'hls_list_size': 10000 is out of range; fix: use a whole number from 3 to 60"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1", hls_list_size=10000),
            ],
        )
    ),
]
