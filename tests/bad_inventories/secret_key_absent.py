"""password_ref names a key the secrets file does not have."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener, secrets_file

EXPECT = 'host \'gw1.example.com\' camera \'front\': field \'password_ref\': key \'back\' is missing from \'{secrets_dir}/site.secrets.toml\'; fix: add a line back = "..." to it'

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            secrets_file=secrets_file("site.secrets.toml"),
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1", username="admin", password_ref="secret:back"),
            ],
        )
    ),
]
