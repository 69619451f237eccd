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

from camgate.model import Edge, Gateway, InventoryError, Origin, parse_edge, parse_edge_host, parse_gateway
from camgate.secrets import SecretError, check_link_secret, check_password_hash, resolve_secret

DATA_KEY = "camgate"
EDGE_DATA_KEY = "camgate_edge"
LOCAL_FILE_FIELDS = ("secrets_file", "acme_ca_bundle", "origin_ca")


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
    raw = with_local_paths({**fields, "cameras": list(cameras) if isinstance(cameras, (list, tuple)) else cameras})
    gw = parse_gateway(host, raw)
    check_local_files(gw)
    check_secrets_resolve(gw)
    data: dict[str, Any] = {DATA_KEY: gw.to_data()}
    data.update(ssh_data(ssh_user=ssh_user, ssh_port=ssh_port, ssh_key=ssh_key, ssh_known_hosts_file=ssh_known_hosts_file))
    return host, data


def edge(
    host: str,
    *,
    ssh_user: str | None = None,
    ssh_port: int | None = None,
    ssh_key: str | None = None,
    ssh_known_hosts_file: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Validate one caching edge's declaration, for the `edges` of the gateways it fronts (docs/edges.md)."""
    ssh = {"ssh_user": ssh_user, "ssh_port": ssh_port, "ssh_key": ssh_key, "ssh_known_hosts_file": ssh_known_hosts_file}
    raw = with_local_paths({"host": host, **fields, "ssh": {k: v for k, v in ssh.items() if v is not None}})
    problems: list[str] = []
    found = parse_edge(raw, f"edge {host!r}", problems)
    if found is None:
        raise InventoryError(problems)
    check_local_files(found)
    check_edge_secrets_resolve(found)
    return found.declaration()


def edges_of(gateways: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """The pyinfra hosts of every edge the gateways declare, each knowing the gateways it fronts.
    An edge of several gateways routes by camera id, so their camera ids must not collide."""
    declared: dict[str, Edge] = {}
    origins: dict[str, list[Origin]] = {}
    problems: list[str] = []
    for host, data in gateways:
        gw = parse_gateway(host, data[DATA_KEY])
        for found in gw.edges:
            first = declared.setdefault(found.host, found)
            if first != found:
                problems.append(f"edge {found.host!r}: is declared differently by two gateways; fix: declare it once (edge1 = edge(...)) and list that in each gateway")
                continue
            origins.setdefault(found.host, []).append(gw.origin())
    hosts = []
    for name, found in declared.items():
        owner: dict[str, str] = {}
        for origin in origins[name]:
            for camera_id in origin.cameras:
                if camera_id in owner:
                    problems.append(
                        f"edge {name!r}: field 'edges': camera id {camera_id!r} is on both {owner[camera_id]!r} and {origin.host!r}, and the edge "
                        "routes by camera id; fix: rename one of the cameras"
                    )
                owner.setdefault(camera_id, origin.host)
            if origin.tls == "selfsigned" and not found.origin_ca:
                problems.append(
                    f"edge {name!r}: field 'origin_ca': is required because gateway {origin.host!r} has tls='selfsigned'; fix: "
                    f"save `camgate tls-ca INVENTORY --host {origin.host}` to a file and set origin_ca= to it"
                )
        data = {EDGE_DATA_KEY: Edge(**{**found.__dict__, "origins": tuple(origins[name])}).to_data(), **ssh_data(**found.ssh)}
        hosts.append((name, data))
    if problems:
        raise InventoryError(problems)
    return hosts


def with_local_paths(raw: dict[str, Any]) -> dict[str, Any]:
    """Fields naming files on this machine, made absolute (pyinfra may run from another folder)."""
    for local_file in LOCAL_FILE_FIELDS:
        if isinstance(raw.get(local_file), (str, Path)):
            raw[local_file] = str(Path(raw[local_file]).expanduser().resolve())
    return raw


def ssh_data(ssh_user=None, ssh_port=None, ssh_key=None, ssh_known_hosts_file=None) -> dict[str, Any]:
    """pyinfra's SSH host data from the settings gateway() and edge() take."""
    given = {"ssh_user": ssh_user, "ssh_port": ssh_port, "ssh_key": ssh_key, "ssh_known_hosts_file": ssh_known_hosts_file}
    data = {k: v for k, v in given.items() if v is not None}
    if ssh_known_hosts_file:
        data["ssh_strict_host_key_checking"] = "yes"
    return data


def check_local_files(site: Gateway | Edge) -> None:
    """Files the deploy uploads from this machine must exist now, before any host is touched."""
    if site.acme_ca_bundle and not Path(site.acme_ca_bundle).is_file():
        raise InventoryError(
            [f"host {site.host!r}: field 'acme_ca_bundle': {site.acme_ca_bundle!r} does not exist; "
             "fix: point it at the ACME server's CA file (PEM) or remove it"]
        )
    if isinstance(site, Edge) and site.origin_ca and not Path(site.origin_ca).is_file():
        raise InventoryError(
            [f"edge {site.host!r}: field 'origin_ca': {site.origin_ca!r} does not exist; "
             "fix: save the gateways' CA there (`camgate tls-ca`) or remove it"]
        )


def check_edge_secrets_resolve(found: Edge) -> None:
    """The edge's credential must resolve to a usable secret now."""
    problems = []
    try:
        check_link_secret(resolve_secret(found.secret_ref, found.secrets_file))
    except SecretError as exc:
        problems.append(f"edge {found.host!r}: field 'secret_ref': {exc}")
    problems += metrics_password_problems(found)
    if problems:
        raise InventoryError(problems)


def metrics_password_problems(site: Gateway | Edge) -> list[str]:
    """With metrics: the metrics user's password must resolve to a hash."""
    if not site.metrics:
        return []
    try:
        check_password_hash(resolve_secret(site.metrics_password_ref, site.secrets_file), site.metrics_password_ref)
    except SecretError as exc:
        kind = "edge" if isinstance(site, Edge) else "host"
        return [f"{kind} {site.host!r}: field 'metrics_password_ref': {exc}"]
    return []


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
    problems += metrics_password_problems(gw)
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


def edge_from_host(host: Any) -> Edge:
    """The validated edge model of a pyinfra edge host (used by the roles)."""
    return parse_edge_host(host.name, host.data.get(EDGE_DATA_KEY))


def is_edge(host: Any) -> bool:
    return host.data.get(EDGE_DATA_KEY) is not None


def site_from_host(host: Any) -> Gateway | Edge:
    """The gateway or edge a pyinfra host is: for the roles both run (base, firewall, TLS, metrics)."""
    return edge_from_host(host) if is_edge(host) else gateway_from_host(host)


def load_gateways(inventory_file: str | Path) -> list[Gateway]:
    """Run an inventory file the way pyinfra does and return its gateways, connecting to nothing."""
    return [gw for gw, _data in load_inventory(inventory_file)]


def load_inventory(inventory_file: str | Path) -> list[tuple[Gateway, dict[str, Any]]]:
    """Each gateway of an inventory file with its pyinfra host data (SSH settings)."""
    return [(parse_gateway(name, data[DATA_KEY]), data) for name, data in inventory_hosts(inventory_file, DATA_KEY)]


def load_edges(inventory_file: str | Path) -> list[tuple[Edge, dict[str, Any]]]:
    """Each caching edge of an inventory file (its `edges_of(...)` hosts) with its pyinfra host data."""
    return [(parse_edge_host(name, data[EDGE_DATA_KEY]), data) for name, data in inventory_hosts(inventory_file, EDGE_DATA_KEY)]


def inventory_hosts(inventory_file: str | Path, key: str) -> list[tuple[str, dict[str, Any]]]:
    """The hosts of an inventory file whose data holds `key`, run the way pyinfra does, connecting to nothing."""
    path = Path(inventory_file)
    if not path.is_file():
        raise InventoryError([f"inventory {str(path)!r} does not exist; fix: pass a file such as inventory/prod.py"])
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())  # as pyinfra does: an inventory may import modules beside it
    namespace = runpy.run_path(str(path))
    found: dict[str, dict[str, Any]] = {}
    for name, value in namespace.items():
        if name.startswith("_") or not isinstance(value, (list, tuple)):
            continue
        hosts = value[0] if _is_group_with_data(value) else value
        for entry in hosts:
            if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], dict) and key in entry[1]:
                found.setdefault(entry[0], entry[1])
    return list(found.items())


def _is_group_with_data(value: Any) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], list) and isinstance(value[1], dict)
