"""A self-signed gateway's edge that does not know the gateway's CA: it could not verify the gateway."""

from camgate.inventory import camera, edge, edges_of, gateway
from tests.bad_inventories._listener import reach_listener, secrets_file

EXPECT = "edge 'edge1.example.com': field 'origin_ca': is required because gateway 'gw1.example.com' has tls='selfsigned'; fix:"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            tls="selfsigned",
            secrets_file=secrets_file("site.secrets.toml"),
            url_secret_ref="secret:link",
            edges=[edge("edge1.example.com", address="198.51.100.20", secret_ref="secret:link", secrets_file=secrets_file("site.secrets.toml"), tls="selfsigned")],
            cameras=[camera("front", url="rtsp://192.168.10.21:554/stream1")],
        )
    ),
]
edges = edges_of(gateways)
