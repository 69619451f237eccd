"""Recording files of 5 seconds (at least 10)."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front': field 'record_segment': 5 is out of range; fix: use a whole number from 10 to 3600 seconds"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1", record=True, record_segment=5),
            ],
        )
    ),
]
