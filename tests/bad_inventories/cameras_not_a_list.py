"""One camera passed without the list around it."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com': field 'cameras': expected a list"
KNOWN_BUG = "camgate.inventory.gateway() runs list(cameras): a dict becomes its keys, so the errors name cameras '#1' and '#2' instead of the field 'cameras' (and cameras=None is a traceback)"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            cameras=camera("front", url="rtsp://192.168.10.21:554/stream1"),
        )
    ),
]
