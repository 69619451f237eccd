"""A display name with U+202E RIGHT-TO-LEFT OVERRIDE: it would display reversed."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front': field 'name': contains the text-direction control U+202E"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1", name="\u202erood tnorF"),
            ],
        )
    ),
]
