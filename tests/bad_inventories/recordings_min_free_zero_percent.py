"""No free space kept at all (0 %): a full disk would stall the system."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com': field 'recordings_min_free': '0%' is not a size or percentage"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            recordings_min_free="0%",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1", record=True),
            ],
        )
    ),
]
