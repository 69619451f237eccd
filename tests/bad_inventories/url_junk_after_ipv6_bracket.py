"""A camera URL with text between the IPv6 address and the port."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front': field 'url': 'rtsp://[fd00::21]x:554/stream1' has a malformed host part; fix: use rtsp://HOST[:PORT]/PATH"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front", url="rtsp://[fd00::21]x:554/stream1"),
            ],
        )
    ),
]
