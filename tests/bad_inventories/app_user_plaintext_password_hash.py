"""An app user whose secret holds the password, not its hash."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener, secrets_file

EXPECT = "host 'gw1.example.com' app user 'alice': field 'password_ref': 'secret:alice-plain' does not hold a password hash"
NOT_IN_OUTPUT = "hunter2"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            secrets_file=secrets_file("site.secrets.toml"),
            app_users=[{"name": "alice", "password_ref": "secret:alice-plain", "cameras": ["*"]}],
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1"),
            ],
        )
    ),
]
