"""A camera id ending in a newline ('$' in a regex matches before it)."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front\\n': field 'id': 'front\\n' is not a valid id; fix: use 1-32 lowercase ASCII letters, digits and '-'"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front\n", url="rtsp://192.168.10.21:554/stream1"),
            ],
        )
    ),
]
