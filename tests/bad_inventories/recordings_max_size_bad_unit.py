"""A disk budget in a unit camgate does not know (GB)."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com': field 'recordings_max_size': '500GB' is not a size; fix: use e.g. '500G'"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            recordings_max_size="500GB",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1", record=True),
            ],
        )
    ),
]
