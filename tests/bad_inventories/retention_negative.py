"""A negative retention."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front': field 'retention': '-1d' is not a duration from 1 minutes to 3650 days"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1", record=True, retention="-1d"),
            ],
        )
    ),
]
