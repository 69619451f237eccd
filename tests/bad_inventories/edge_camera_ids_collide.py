"""One edge in front of two gateways that both have a camera 'front': the edge routes by camera id."""

from camgate.inventory import camera, edge, edges_of, gateway
from tests.bad_inventories._listener import reach_listener, secrets_file

EXPECT = "edge 'edge1.example.com': field 'edges': camera id 'front' is on both 'gw1.example.com' and 'gw2.example.com', and the edge routes by camera id; fix: rename one of the cameras"

edge1 = edge("edge1.example.com", address="198.51.100.20", secret_ref="secret:link", secrets_file=secrets_file("site.secrets.toml"), acme_email="ops@example.com")
gateways = [
    reach_listener(
        gateway(
            name,
            acme_email="ops@example.com",
            secrets_file=secrets_file("site.secrets.toml"),
            url_secret_ref="secret:link",
            edges=[edge1],
            cameras=[camera("front", url="rtsp://192.168.10.21:554/stream1")],
        )
    )
    for name in ("gw1.example.com", "gw2.example.com")
]
edges = edges_of(gateways)
