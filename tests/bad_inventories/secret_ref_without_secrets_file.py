"""A secret: reference on a gateway without secrets_file."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front': field 'password_ref': 'secret:front' needs the gateway's 'secrets_file'; fix: set secrets_file"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1", username="admin", password_ref="secret:front"),
            ],
        )
    ),
]
