"""An edge whose credential names a key the secrets file does not have."""

from camgate.inventory import camera, edge, edges_of, gateway
from tests.bad_inventories._listener import reach_listener, secrets_file

EXPECT = "edge 'edge1.example.com': field 'secret_ref':"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            secrets_file=secrets_file("site.secrets.toml"),
            url_secret_ref="secret:link",
            edges=[edge("edge1.example.com", address="198.51.100.20", secret_ref="secret:edge1", secrets_file=secrets_file("site.secrets.toml"), acme_email="ops@example.com")],
            cameras=[camera("front", url="rtsp://192.168.10.21:554/stream1")],
        )
    ),
]
edges = edges_of(gateways)
