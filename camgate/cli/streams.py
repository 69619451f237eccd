"""Commands that hand out and protect stream access: urls, sign, rotate-url-secret, hash-password, tls-ca."""

from __future__ import annotations

import time
from pathlib import Path

import click

from camgate import paths, remote
from camgate.checks import signed_status_command
from camgate.cli.common import (
    DURATION,
    EXIT_REMOTE,
    fail,
    load_inventory_or_exit,
    pick_gateway,
    print_table,
    utc,
)
from camgate.edge import stream_base_url
from camgate.passwords import hash_password
from camgate.secrets import SecretError
from camgate.signing import parse_link_secret_conf, signed_path, signed_url
from camgate.tls import certificate_fingerprint

ttl_option = click.option(
    "--ttl", type=DURATION, default=None, help="How long the URL stays valid: 90s, 30m, 1h, 2d (default: url_ttl)."
)
via_option = click.option(
    "--via", type=click.Choice(["gateway", "edge"]), default="gateway", show_default=True,
    help="Sign for the gateway, or for the caching edge the app's manifest hands out (docs/edges.md).",
)  # fmt: skip
user_option = click.option("--user", help="With --via edge and edge_choice='user': the app user whose edge to use.")


def stream_base_or_exit(gateway, camera, via: str, user: str | None) -> str:
    """The base URL a signed URL starts with: the gateway's, or (--via edge) the edge the manifest picks."""
    if via == "gateway":
        return gateway.base_url
    if not gateway.edges:
        fail(f"--via: gateway {gateway.host!r} has no edges; fix: declare edges=[...] on it or drop --via edge")
    if gateway.edge_choice == "user":
        names = [u.name for u in gateway.app_users if camera in gateway.cameras_of(u)]
        if user is None or user not in names:
            fail(f"--user: {gateway.host!r} hands out edges per app user (edge_choice='user'); fix: add --user with one of "
                 f"{', '.join(names) or 'its app users'} (who may see {camera.id!r})")  # fmt: skip
    return stream_base_url(gateway, camera.id, user)
# A rotation is live when nginx answers a URL signed with the new secret and refuses one signed with
# the old; reloading nginx replaces its workers gracefully, so that takes a moment.
ROTATION_LIVE_WITHIN = 15.0
ROTATION_PROBE_CAMERA = "rotation-check"  # any id: a valid signature for a missing camera gets 404, a bad one 403


def link_secret_or_exit(gateway, data) -> str:
    try:
        return remote.link_secret(gateway, data)
    except (remote.RemoteError, SecretError) as exc:
        fail(str(exc), EXIT_REMOTE)


@click.command()
@click.argument("inventory", type=click.Path(dir_okay=False))
@ttl_option
@via_option
@user_option
def urls(inventory: str, ttl: int | None, via: str, user: str | None) -> None:
    """Print a signed live HLS URL for every enabled camera of every gateway.

    The signing secret comes from the secrets store (url_secret_ref) or, over SSH, from the gateway.
    With --via edge, the URLs name the caching edge the app's manifest would hand out (per camera,
    or per app user with edge_choice='user' and --user: then only that user's cameras).

    \b
    Example:
      camgate urls inventory/testbed.py --ttl 30m
      camgate urls inventory/site.py --via edge --user alice
    """
    rows = []
    for gateway, data in load_inventory_or_exit(inventory):
        secret = link_secret_or_exit(gateway, data)
        visible = gateway.enabled_cameras
        if via == "edge" and gateway.edge_choice == "user" and user is not None:
            visible = tuple(c for u in gateway.app_users if u.name == user for c in gateway.cameras_of(u))
        for camera in visible:
            url, expires = signed_url(gateway, camera, secret, ttl, base_url=stream_base_or_exit(gateway, camera, via, user))
            rows.append((gateway.host, camera.id, utc(expires), url))
    print_table(("GATEWAY", "CAMERA", "VALID UNTIL (UTC)", "HLS URL"), rows)


@click.command()
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.argument("camera_id", metavar="CAMERA")
@ttl_option
@click.option("--gateway", "gateway_name", help="Which gateway (default: the one that has CAMERA).")
@via_option
@user_option
def sign(inventory: str, camera_id: str, ttl: int | None, gateway_name: str | None, via: str, user: str | None) -> None:
    """Print a signed, expiring live HLS URL for one camera (and nothing else, for scripts).

    With --via edge, the URL names the caching edge the app's manifest hands out for it.

    \b
    Example:
      camgate sign inventory/site.py front-door --ttl 1h
      ffplay "$(camgate sign inventory/site.py front-door --ttl 10m)"
      camgate sign inventory/site.py front-door --via edge
    """
    entries = load_inventory_or_exit(inventory)
    if gateway_name is None:
        entries = [(gw, data) for gw, data in entries if any(c.id == camera_id for c in gw.enabled_cameras)] or entries
    gateway, data = pick_gateway(entries, gateway_name)
    camera = next((c for c in gateway.enabled_cameras if c.id == camera_id), None)
    if camera is None:
        known = ", ".join(c.id for c in gateway.enabled_cameras) or "none"
        fail(f"CAMERA: {camera_id!r} is not an enabled camera of {gateway.host}; fix: use one of {known}")
    base_url = stream_base_or_exit(gateway, camera, via, user)
    url, expires = signed_url(gateway, camera, link_secret_or_exit(gateway, data), ttl, base_url=base_url)
    click.echo(url)
    click.echo(f"valid until {utc(expires)} UTC", err=True)


@click.command("rotate-url-secret")
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.option("--gateway", "gateway_name", help="Which gateway (default: the only one in the inventory).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def rotate_url_secret(inventory: str, gateway_name: str | None, yes: bool) -> None:
    """Replace a gateway's URL signing secret: every URL signed before stops working at once.

    Apps fetch fresh URLs from /api/cameras; cameras and recordings are not touched. The command
    checks on the gateway that nginx accepts the new secret and refuses the old one, and exits 4
    when it does not (nginx stopped: the new secret waits on disk for its start; nginx refusing its
    configuration: the old secret stays). With url_secret_ref, change the secret in the secrets
    store and re-run the deploy instead.

    \b
    Example:
      camgate rotate-url-secret inventory/site.py --yes
    """
    gateway, data = pick_gateway(load_inventory_or_exit(inventory), gateway_name)
    if gateway.url_secret_ref:
        fail(f"{gateway.host}: field 'url_secret_ref' is set; fix: put a new secret in the secrets store and re-run the deploy")
    if not yes:
        click.confirm(f"Every signed URL of {gateway.host} stops working now. Rotate?", abort=True)
    try:
        with remote.connect(remote.SshTarget.from_host_data(gateway.host, data)) as client:
            old = parse_link_secret_conf(remote.read_file(client, paths.LINK_SECRET_CONF, gateway.host))
            status, out, err = remote.run(client, [paths.LINK_SECRET_SCRIPT, "--rotate"])
            if status != 0:
                fail(f"{gateway.host}: the new signing secret is not live: {(err or out).strip()}", EXIT_REMOTE)
            new = parse_link_secret_conf(remote.read_file(client, paths.LINK_SECRET_CONF, gateway.host))
            if not new or new == old:
                fail(f"{gateway.host}: no new signing secret in {paths.LINK_SECRET_CONF}; fix: re-run the deploy", EXIT_REMOTE)
            live, detail = wait_until_secret_live(client, gateway, new, old)
    except remote.RemoteError as exc:
        fail(str(exc), EXIT_REMOTE)
    if not live:
        fail(f"{gateway.host}: the new signing secret is not live: {detail}", EXIT_REMOTE)
    click.echo(f"{gateway.host}: new URL signing secret live ({detail}); URLs signed before now get 403")


def wait_until_secret_live(client, gateway, new: str, old: str | None) -> tuple[bool, str]:
    """Ask nginx on the gateway until a URL signed with `new` passes and one signed with `old` is refused."""
    deadline = time.monotonic() + ROTATION_LIVE_WITHIN
    while True:
        expires = int(time.time()) + 120
        codes = {}
        for name, secret in (("new", new), ("old", old)):
            if secret is None:
                continue
            command = signed_status_command(gateway, signed_path(secret, ROTATION_PROBE_CAMERA, expires))
            _status, out, _err = remote.run(client, command, timeout=20)
            codes[name] = out.strip() or "no answer"
        detail = ", ".join(f"{name} secret: HTTP {code}" for name, code in codes.items())
        if codes["new"] not in ("403", "no answer", "000") and codes.get("old", "403") == "403":
            return True, detail
        if time.monotonic() > deadline:
            return False, detail
        time.sleep(0.5)


@click.command("hash-password")
@click.password_option(prompt="App user password", help="Read from the terminal when not given.")
def hash_password_cmd(password: str) -> None:
    """Print a password hash ($6$) for an app user, to put in the site's secrets file.

    \b
    Example:
      camgate hash-password            # asks twice, prints $6$...
      echo 'alice = "<hash>"' >> inventory/site.secrets.toml   # then password_ref="secret:alice"
    """
    try:
        click.echo(hash_password(password))
    except ValueError as exc:
        fail(f"password: {exc}")


@click.command("tls-ca")
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.option("--gateway", "gateway_name", help="Which gateway (default: the only one in the inventory).")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Write the PEM here instead of stdout.")
def tls_ca(inventory: str, gateway_name: str | None, out: str | None) -> None:
    """Print the CA of a gateway with tls='selfsigned' (PEM) and its SHA-256 fingerprint.

    Install the PEM on the phones and browsers that use the gateway (iOS: AirDrop or mail it, then
    Settings > General > About > Certificate Trust Settings); compare the fingerprint when you do.

    \b
    Example:
      camgate tls-ca inventory/site.py --out site-ca.pem
    """
    gateway, data = pick_gateway(load_inventory_or_exit(inventory), gateway_name)
    if gateway.tls != "selfsigned":
        fail(f"{gateway.host}: field 'tls' is {gateway.tls!r}; fix: only tls='selfsigned' has a gateway CA")
    try:
        with remote.connect(remote.SshTarget.from_host_data(gateway.host, data)) as client:
            pem = remote.read_file(client, f"{paths.TLS_SELFSIGNED_CA}/ca.pem", gateway.host)
    except remote.RemoteError as exc:
        fail(str(exc), EXIT_REMOTE)
    if out:
        Path(out).write_text(pem)
    else:
        click.echo(pem, nl=False)
    click.echo(f"SHA-256 fingerprint: {certificate_fingerprint(pem)}", err=True)


COMMANDS = (urls, sign, rotate_url_secret, hash_password_cmd, tls_ca)
