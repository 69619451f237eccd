"""A password reference without the user name it belongs to."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front': field 'username': is required with 'password_ref'; fix: set the camera's user name"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1", password_ref="env:CAMGATE_TEST_SET_PASSWORD"),
            ],
        )
    ),
]
