"""More than all of the disk kept free."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com': field 'recordings_min_free': '150%' is not a size or percentage"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            recordings_min_free="150%",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1", record=True),
            ],
        )
    ),
]
