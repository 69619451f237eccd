"""The secrets file is not TOML (a value without quotes)."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener, secrets_file

EXPECT = "host 'gw1.example.com' camera 'front': field 'password_ref': secrets file '{secrets_dir}/broken.secrets.toml' is not valid TOML"
NOT_IN_OUTPUT = "s3cret"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            secrets_file=secrets_file("broken.secrets.toml"),
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1", username="admin", password_ref="secret:front"),
            ],
        )
    ),
]
