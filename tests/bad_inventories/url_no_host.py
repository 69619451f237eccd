"""A camera URL without a host."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front': field 'url': 'rtsp:///stream1' has no host; fix: use rtsp://HOST[:PORT]/PATH"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front", url="rtsp:///stream1"),
            ],
        )
    ),
]
