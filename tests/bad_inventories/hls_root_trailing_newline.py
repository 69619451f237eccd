"""hls_root ending in a newline (RuntimeDirectory= injection)."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com': field 'hls_root': '/run/camgate/hls\\n' is not a clean absolute path"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            hls_root="/run/camgate/hls\n",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1"),
            ],
        )
    ),
]
