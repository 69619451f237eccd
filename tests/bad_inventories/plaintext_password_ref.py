"""The camera password itself where a reference is required."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front': field 'password_ref': is not a secret reference; fix: use 'secret:KEY'"
NOT_IN_OUTPUT = "hunter2"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1", username="admin", password_ref="hunter2"),
            ],
        )
    ),
]
