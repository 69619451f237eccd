"""One camera passed without the list around it."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com': field 'cameras': expected a list"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=camera("front", url="rtsp://192.168.10.21:554/stream1"),
        )
    ),
]
