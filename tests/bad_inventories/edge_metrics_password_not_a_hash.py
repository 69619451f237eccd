"""An edge serving metrics whose metrics_password_ref holds a plain password instead of its hash."""

from camgate.inventory import camera, edge, edges_of, gateway
from tests.bad_inventories._listener import reach_listener, secrets_file

EXPECT = "edge 'edge1.example.com': field 'metrics_password_ref':"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            secrets_file=secrets_file("site.secrets.toml"),
            url_secret_ref="secret:link",
            edges=[
                edge("edge1.example.com", address="198.51.100.20", secret_ref="secret:edge-credential", acme_email="ops@example.com",
                     secrets_file=secrets_file("site.secrets.toml"), metrics_from=["192.0.2.50"], metrics_password_ref="secret:alice-plain")
            ],  # fmt: skip
            cameras=[camera("front", url="rtsp://192.168.10.21:554/stream1")],
        )
    ),
]
edges = edges_of(gateways)
