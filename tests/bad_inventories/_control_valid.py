"""Positive control for the corpus (not a case: the leading '_' keeps it out): a VALID inventory
wired exactly like the cases. pyinfra gets past validation and connects to the test's listener,
which proves that a zero connection count after a bad case means something."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener, secrets_file

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            secrets_file=secrets_file("site.secrets.toml"),
            cameras=[
                camera(
                    "front",
                    url="rtsp://192.168.10.21:554/stream1",
                    username="admin",
                    password_ref="secret:front",
                ),
            ],
            app_users=[{"name": "alice", "password_ref": "secret:alice", "cameras": ["*"]}],
        )
    ),
]
