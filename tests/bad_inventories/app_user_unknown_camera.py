"""An app user allowed a camera the gateway does not have."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener, secrets_file

EXPECT = "host 'gw1.example.com' app user 'alice': field 'cameras': 'back' is not a camera of this gateway"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            secrets_file=secrets_file("site.secrets.toml"),
            app_users=[{"name": "alice", "password_ref": "secret:alice", "cameras": ["back"]}],
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1"),
            ],
        )
    ),
]
