"""A camera id with a space (unit names and URLs cannot hold it)."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front door': field 'id': 'front door' is not a valid id; fix: use 1-32 lowercase ASCII letters, digits and '-'"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front door", url="rtsp://192.168.10.21:554/stream1"),
            ],
        )
    ),
]
