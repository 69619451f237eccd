"""Credentials pasted into the URL where username and password_ref belong."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front': field 'url': embeds credentials; fix: remove 'user:password@' from the URL and set 'username' and 'password_ref' instead"
NOT_IN_OUTPUT = "hunter2"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front", url="rtsp://admin:hunter2@192.168.10.21/stream1"),
            ],
        )
    ),
]
