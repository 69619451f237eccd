"""A display name of 77 characters (at most 64)."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front': field 'name': is 77 characters long; fix: use at most 64 characters"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1", name="Front door " * 7),
            ],
        )
    ),
]
