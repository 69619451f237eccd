"""A gateway with edges but its URL secret made on the gateway: the edges could not check its URLs."""

from camgate.inventory import camera, edge, edges_of, gateway
from tests.bad_inventories._listener import reach_listener, secrets_file

EXPECT = "host 'gw1.example.com': field 'url_secret_ref': is required with edges (they check the same signed URLs); fix:"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            secrets_file=secrets_file("site.secrets.toml"),
            edges=[edge("edge1.example.com", address="198.51.100.20", secret_ref="secret:link", secrets_file=secrets_file("site.secrets.toml"), acme_email="ops@example.com")],
            cameras=[camera("front", url="rtsp://192.168.10.21:554/stream1")],
        )
    ),
]
edges = edges_of(gateways)
