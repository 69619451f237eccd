"""A camera id carrying a backtick command substitution."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front`reboot`': field 'id': 'front`reboot`' is not a valid id; fix: use 1-32 lowercase ASCII letters, digits and '-'"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front`reboot`", url="rtsp://192.168.10.21:554/stream1"),
            ],
        )
    ),
]
