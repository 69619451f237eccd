"""A CORS origin with a newline and a second header (response splitting)."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com': field 'cors_origin': 'https://app.example.com\\nSet-Cookie: a=b' is not '*' or an origin"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cors_origin="https://app.example.com\nSet-Cookie: a=b",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1"),
            ],
        )
    ),
]
