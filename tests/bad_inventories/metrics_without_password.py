"""Metrics for a Prometheus server without the metrics user's password: sources alone are not enough."""

from camgate.inventory import camera, gateway
from tests.bad_inventories._listener import reach_listener

EXPECT = "host 'gw1.example.com': field 'metrics_password_ref': is required with metrics_from"

gateways = [
    reach_listener(
        gateway(
            "gw1.example.com",
            acme_email="ops@example.com",
            metrics_from=["198.51.100.7"],
            cameras=[
                camera("front", url="rtsp://192.168.10.21:554/stream1"),
            ],
        )
    ),
]
