"""Test gateways, declared the way an inventory file declares them (camgate.inventory)."""

from camgate.inventory import camera, gateway

HOST = "gw1.example.com"
DOMAIN = "cams.example.com"


def password_variable(camera_id: str) -> str:
    """The environment variable holding a test camera's password (see the `passwords` fixture)."""
    return f"CAMGATE_TEST_PASSWORD_{camera_id.upper().replace('-', '_')}"


def cam(camera_id: str, number: int = 20, **fields) -> dict:
    """A camera at rtsp://192.168.1.<number>:554/stream1 with user 'admin' and an env: password."""
    fields = {"username": "admin", "password_ref": f"env:{password_variable(camera_id)}", **fields}
    return camera(camera_id, url=f"rtsp://192.168.1.{number}:554/stream1", **fields)


def site(*cameras: dict, **fields) -> tuple[str, dict]:
    """The (host, data) pair of gateway HOST serving DOMAIN; tls='selfsigned' unless given."""
    fields.setdefault("tls", "selfsigned")
    if fields["tls"] == "letsencrypt":
        fields.setdefault("acme_email", "ops@example.com")
    return gateway(HOST, domain=DOMAIN, cameras=list(cameras), **fields)
