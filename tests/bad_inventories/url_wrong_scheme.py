"""An HTTP URL where the camera's RTSP stream is required."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com' camera 'front': field 'url': scheme 'http' is not supported; fix: use rtsp:// or rtsps://"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=[
                camera("front", url="http://192.168.10.21/stream1"),
            ],
        )
    ),
]
