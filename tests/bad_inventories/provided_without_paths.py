"""tls='provided' without the certificate and key paths (two problems)."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com': field 'tls_certificate': is required with tls='provided'; fix: give its path on the gateway"
PROBLEMS = 2

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            tls="provided",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1"),
            ],
        )
    ),
]
