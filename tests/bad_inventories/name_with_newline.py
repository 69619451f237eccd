"""A display name with a newline and a systemd directive after it (unit file injection)."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front': field 'name': contains a control character (newline, tab, ...); fix: use a single line"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1", name="Front door\nExecStartPre=/bin/sh -c reboot"),
            ],
        )
    ),
]
