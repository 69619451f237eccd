"""A typo in a camera field name (hls_tme)."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front': field 'hls_tme': unknown field; fix: did you mean 'hls_time'?"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1", hls_tme=4),
            ],
        )
    ),
]
