"""Helpers for inventory files, and loading an inventory without connecting to any host.

An inventory file is a pyinfra inventory (Python). Each gateway is declared with :func:`gateway`,
which validates everything (fields and secret references) when pyinfra loads the file, so a bad
value stops ``pyinfra`` before it opens a single SSH connection::

    from camgate.inventory import camera, gateway

    gateways = [
        gateway(
            "gw1.example.com",
            domain="cams.example.com",
            secrets_file=__file__.replace(".py", ".secrets.toml"),
            cameras=[
                camera("front-door", url="rtsp://192.168.10.21:554/stream1",
                       username="admin", password_ref="secret:front-door"),
            ],
        ),
    ]
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path
from typing import Any

from camgate.model import Gateway, InventoryError, parse_gateway
from camgate.secrets import SecretError, check_link_secret, check_password_hash, resolve_secret

DATA_KEY = "camgate"


def camera(id: str, url: str, **fields: Any) -> dict[str, Any]:
    """One camera's fields as plain data (validated when passed to :func:`gateway`)."""
    return {"id": id, "url": url, **fields}


def gateway(
    host: str,
    *,
    cameras: list[dict[str, Any]] | tuple[dict[str, Any], ...] = (),
    ssh_user: str | None = None,
    ssh_port: int | None = None,
    ssh_key: str | None = None,
    ssh_known_hosts_file: str | None = None,
    **fields: Any,
) -> tuple[str, dict[str, Any]]:
    """Validate one gateway and return the ``(host, data)`` pair pyinfra expects."""
    # Anything but a list goes to the model as it is, which names the field and the fix.
    raw = {**fields, "cameras": list(cameras) if isinstance(cameras, (list, tuple)) else cameras}
    for local_file in ("secrets_file", "acme_ca_bundle"):
        if isinstance(raw.get(local_file), (str, Path)):
            raw[local_file] = str(Path(raw[local_file]).expanduser().resolve())
    gw = parse_gateway(host, raw)
    check_local_files(gw)
    check_secrets_resolve(gw)
    data: dict[str, Any] = {DATA_KEY: gw.to_data()}
    ssh = {
        "ssh_user": ssh_user,
        "ssh_port": ssh_port,
        "ssh_key": ssh_key,
        "ssh_known_hosts_file": ssh_known_hosts_file,
    }
    data.update({k: v for k, v in ssh.items() if v is not None})
    if ssh_known_hosts_file:
        data["ssh_strict_host_key_checking"] = "yes"
    return host, data


def check_local_files(gw: Gateway) -> None:
    """Files the deploy uploads from this machine must exist now, before any host is touched."""
    if gw.acme_ca_bundle and not Path(gw.acme_ca_bundle).is_file():
        raise InventoryError(
            [f"host {gw.host!r}: field 'acme_ca_bundle': {gw.acme_ca_bundle!r} does not exist; "
             "fix: point it at the ACME server's CA file (PEM) or remove it"]
        )


def check_secrets_resolve(gw: Gateway) -> None:
    """Every secret reference must resolve now, before any host is touched; app users' and the
    metrics user's to a hash."""
    problems = []
    for cam in gw.enabled_cameras:
        if cam.password_ref is None:
            continue
        try:
            resolve_secret(cam.password_ref, gw.secrets_file)
        except SecretError as exc:
            problems.append(f"host {gw.host!r} camera {cam.id!r}: field 'password_ref': {exc}")
    for user in gw.app_users:
        try:
            check_password_hash(resolve_secret(user.password_ref, gw.secrets_file), user.password_ref)
        except SecretError as exc:
            problems.append(f"host {gw.host!r} app user {user.name!r}: field 'password_ref': {exc}")
    if gw.metrics:
        try:
            check_password_hash(resolve_secret(gw.metrics_password_ref, gw.secrets_file), gw.metrics_password_ref)
        except SecretError as exc:
            problems.append(f"host {gw.host!r}: field 'metrics_password_ref': {exc}")
    if gw.url_secret_ref:
        try:
            check_link_secret(resolve_secret(gw.url_secret_ref, gw.secrets_file))
        except SecretError as exc:
            problems.append(f"host {gw.host!r}: field 'url_secret_ref': {exc}")
    if problems:
        raise InventoryError(problems)


def gateway_from_host(host: Any) -> Gateway:
    """The validated gateway model of a pyinfra host (used by the roles)."""
    raw = host.data.get(DATA_KEY)
    if raw is None:
        raise InventoryError(
            [f"host {host.name!r}: has no camgate data; fix: declare it with camgate.inventory.gateway(...)"]
        )
    return parse_gateway(host.name, raw)


def load_gateways(inventory_file: str | Path) -> list[Gateway]:
    """Run an inventory file the way pyinfra does and return its gateways, connecting to nothing."""
    return [gw for gw, _data in load_inventory(inventory_file)]


def load_inventory(inventory_file: str | Path) -> list[tuple[Gateway, dict[str, Any]]]:
    """Each gateway of an inventory file with its pyinfra host data (SSH settings)."""
    path = Path(inventory_file)
    if not path.is_file():
        raise InventoryError([f"inventory {str(path)!r} does not exist; fix: pass a file such as inventory/prod.py"])
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())  # as pyinfra does: an inventory may import modules beside it
    namespace = runpy.run_path(str(path))
    gateways: dict[str, tuple[Gateway, dict[str, Any]]] = {}
    for name, value in namespace.items():
        if name.startswith("_") or not isinstance(value, (list, tuple)):
            continue
        hosts = value[0] if _is_group_with_data(value) else value
        for entry in hosts:
            if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], dict) and DATA_KEY in entry[1]:
                if entry[0] not in gateways:
                    gateways[entry[0]] = (parse_gateway(entry[0], entry[1][DATA_KEY]), entry[1])
    return list(gateways.values())


def _is_group_with_data(value: Any) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], list) and isinstance(value[1], dict)
