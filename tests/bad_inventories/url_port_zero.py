"""A camera URL with port 0."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front': field 'url': has an invalid port; fix: use a port between 1 and 65535"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:0/stream1"),
            ],
        )
    ),
]
