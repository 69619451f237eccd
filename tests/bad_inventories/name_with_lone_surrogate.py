"""A display name with a lone UTF-16 surrogate: it cannot be written as UTF-8."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front': field 'name': contains the invalid character U+D800"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1", name="Front door \ud800"),
            ],
        )
    ),
]
