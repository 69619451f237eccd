"""A camera id with a newline and a systemd directive after it (unit file injection)."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front\\nExecStartPre=/bin/sh -c reboot': field 'id': 'front\\nExecStartPre=/bin/sh -c reboot' is not a valid id; fix: use 1-32 lowercase ASCII letters, digits and '-'"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front\nExecStartPre=/bin/sh -c reboot", url="rtsp://192.168.10.21:554/stream1"),
            ],
        )
    ),
]
