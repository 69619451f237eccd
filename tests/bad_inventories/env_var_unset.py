"""password_ref names an environment variable that is not set."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front': field 'password_ref': environment variable 'CAMGATE_TEST_UNSET_PASSWORD' is not set; fix: export CAMGATE_TEST_UNSET_PASSWORD=..."

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1", username="admin", password_ref="env:CAMGATE_TEST_UNSET_PASSWORD"),
            ],
        )
    ),
]
