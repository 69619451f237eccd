"""An edge's address is a name: the gateway's firewall opens its origin port to addresses only."""

from camgate.inventory import camera, edge, edges_of, gateway
from tests.bad_inventories._listener import reach_listener, secrets_file

EXPECT = "edge 'edge1.example.com': field 'address': 'edge1.example.com' is not an IP address; fix:"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            secrets_file=secrets_file("site.secrets.toml"),
            url_secret_ref="secret:link",
            edges=[edge("edge1.example.com", address="edge1.example.com", secret_ref="secret:link", secrets_file=secrets_file("site.secrets.toml"), acme_email="ops@example.com")],
            cameras=[camera("front", url="rtsp://192.168.10.21:554/stream1")],
        )
    ),
]
edges = edges_of(gateways)
