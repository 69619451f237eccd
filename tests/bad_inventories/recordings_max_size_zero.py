"""A disk budget of zero."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com': field 'recordings_max_size': '0G' is not a size"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            recordings_max_size="0G",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1", record=True),
            ],
        )
    ),
]
