"""An app user name ending in a newline (a second htpasswd line)."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener, secrets_file

EXPECT = "host 'gw1.example.com' app user 'alice\\n': field 'name': 'alice\\n' is not a valid user name"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            secrets_file=secrets_file("site.secrets.toml"),
            app_users=[{"name": "alice\n", "password_ref": "secret:alice", "cameras": ["*"]}],
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1"),
            ],
        )
    ),
]
