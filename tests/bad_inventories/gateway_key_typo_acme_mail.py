"""A typo in a gateway field name (acme_mail): the address is missing too."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com': field 'acme_mail': unknown field; fix: did you mean 'acme_email'?"
PROBLEMS = 2

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_mail="ops@example.com",
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1"),
            ],
        )
    ),
]
