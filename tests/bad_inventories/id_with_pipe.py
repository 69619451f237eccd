"""A camera id carrying a shell pipe."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front|sh': field 'id': 'front|sh' is not a valid id; fix: use 1-32 lowercase ASCII letters, digits and '-'"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front|sh", url="rtsp://192.168.10.21:554/stream1"),
            ],
        )
    ),
]
