"""Two cameras share the id 'front' (unit names, paths and URLs would collide)."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front': field 'id': 'front' is used by two cameras; fix: give each camera its own id"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1"),
                camera("front", url="rtsp://192.168.10.22:554/stream1"),
            ],
        )
    ),
]
