"""`camgate init` and `camgate camera add|remove|list`: a new site in minutes, kept as data.

A site is three files in the inventory folder (see camgate/site.py): <site>.toml (the gateway and
its cameras), <site>.py (the pyinfra inventory that loads it) and <site>.secrets.toml (passwords,
0600, git-ignored). Every edit is validated with the model, on the whole site, before any file is
written; a rejected edit leaves the files as they were.
"""

from __future__ import annotations

import ipaddress
import os
import stat
import sys
from pathlib import Path
from typing import Any

import click

from camgate.cli.common import EXIT_FAILURE, SITES_DIR, fail, site_inventory, load_inventory_or_exit, pick_gateway, print_table, read_password
from camgate.cli.onvif import address_or_exit, read_camera_or_exit
from camgate.inventory import load_gateways
from camgate.model import CAMERA_DEFAULTS as DEFAULTS, CAMERA_SPECS, GATEWAY_DEFAULTS, TLS_MODES, InventoryError, check_email, check_host_path, check_hostname, check_slug
from camgate.onvif import ONVIF_PORT, Device, Profile, main_and_sub
from camgate.probe import expected_latency
from camgate.secrets import SecretError, read_secrets_file
from camgate.site import (
    Site,
    SiteEditError,
    append_camera,
    check_host,
    check_ssh_user,
    inventory_file_text,
    remove_camera,
    remove_secret,
    secrets_file_text,
    set_secret,
    site_file_text,
    stage,
    write_atomically,
)

DEFAULT_DIR = SITES_DIR


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def _interactive() -> bool:
    """Prompts only make sense on a terminal (tests replace this)."""
    return sys.stdin.isatty()


def _display(path: Path) -> str:
    """A path as the user would type it: relative to the current folder when below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# --- camgate init -------------------------------------------------------------------------------


def _prompt_checked(text: str, check, default: Any = None) -> str:
    def value_proc(value: str) -> str:
        value = value.strip()
        problem = check(value)
        if problem:
            raise click.UsageError(problem)
        return value

    return click.prompt(text, default=default, value_proc=value_proc)


def _default_tls(domain: str) -> str:
    try:
        ipaddress.ip_address(domain)
        return "selfsigned"  # ACME CAs do not certify addresses: a LAN-only site
    except ValueError:
        return GATEWAY_DEFAULTS["tls"]


@click.command("init")
@click.argument("site")
@click.option("--host", help="Address pyinfra connects to over SSH (name or IP).")
@click.option("--ssh-user", help="SSH user on the gateway (default: root; another user deploys with `pyinfra --sudo`).")
@click.option("--ssh-port", type=click.IntRange(1, 65535), help="SSH port (default: 22).")
@click.option("--domain", help="Name the app uses to reach the gateway (default: the host).")
@click.option("--email", "acme_email", help="Contact address for Let's Encrypt (required with --tls letsencrypt).")
@click.option("--tls", type=click.Choice(TLS_MODES), help=f"HTTPS mode (default: {GATEWAY_DEFAULTS['tls']}, selfsigned for an IP address).")
@click.option("--tls-certificate", help="With --tls provided: full-chain PEM path on the gateway.")
@click.option("--tls-key", help="With --tls provided: private key PEM path on the gateway.")
@click.option("--dir", "directory", default=DEFAULT_DIR, show_default=True, type=click.Path(file_okay=False),
              help="Inventory folder the site files go to.")
@click.option("--yes", "-y", is_flag=True, help="Ask nothing: use the flags and the defaults.")
@click.option("--force", is_flag=True, help="Rewrite an existing site's .toml and .py (its secrets file is kept).")
def init(site: str, host: str | None, ssh_user: str | None, ssh_port: int | None, domain: str | None,
         acme_email: str | None, tls: str | None, tls_certificate: str | None, tls_key: str | None,
         directory: str, yes: bool, force: bool) -> None:  # fmt: skip
    """Create a site: SITE.toml (gateway and cameras), SITE.py (the pyinfra inventory) and
    SITE.secrets.toml (passwords, mode 0600, git-ignored) in the inventory folder.

    Asks for what the flags leave out when run on a terminal; with --yes or without a terminal it
    uses the flags and the defaults. Never overwrites an existing site without --force. Exits 2
    on invalid input or an existing site, 1 when a file cannot be written.

    \b
    Example:
      camgate init mysite --host 203.0.113.10 --domain cams.example.com --email ops@example.com --yes
      camgate init lab --host 192.168.1.50 --tls selfsigned --yes
      camgate init office --host gw.corp.example --tls provided \\
          --tls-certificate /etc/ssl/cams/fullchain.pem --tls-key /etc/ssl/private/cams.key --yes
      camgate init shop                      # asks for each value
    """
    problem = check_slug(site)
    if problem:
        fail(f"SITE: {problem}")
    folder = Path(directory)
    py_path, toml_path, secrets_path = (folder / f"{site}{suffix}" for suffix in (".py", ".toml", ".secrets.toml"))
    existing = [p for p in (toml_path, py_path) if p.exists()]
    if existing and not force:
        fail(
            f"site {site!r} already exists ({', '.join(str(p) for p in existing)}); fix: choose another name, "
            f"or pass --force to rewrite {toml_path.name} and {py_path.name} (the secrets file is kept)"
        )
    ask = not yes and _interactive()
    for flag, value, check in (("--host", host, check_host), ("--ssh-user", ssh_user, check_ssh_user),
                               ("--domain", domain, check_hostname), ("--email", acme_email, check_email)):  # fmt: skip
        if value is not None and check(value):
            fail(f"{flag}: {check(value)}")
    if host is None:
        if not ask:
            fail("--host: is required when camgate init cannot ask (no terminal, or --yes); fix: pass --host ADDRESS")
        host = _prompt_checked("Gateway address (SSH)", check_host)
    if ssh_user is None:
        ssh_user = _prompt_checked("SSH user", check_ssh_user, default="root") if ask else "root"
    if ssh_port is None:
        ssh_port = click.prompt("SSH port", default=22, type=click.IntRange(1, 65535)) if ask else 22
    default_domain = host if check_hostname(host) is None else None
    if domain is None:
        if ask:
            domain = _prompt_checked("Domain the app uses", check_hostname, default=default_domain)
        elif default_domain is None:
            fail(f"--domain: is required because the host {host!r} cannot be one; fix: pass --domain cams.example.com")
        else:
            domain = default_domain
    if tls is None:
        tls = click.prompt("TLS mode", default=_default_tls(domain), type=click.Choice(TLS_MODES)) if ask else _default_tls(domain)
    if tls == "letsencrypt" and acme_email is None:
        if not ask:
            fail(
                "--email: is required with --tls letsencrypt (Let's Encrypt writes there before a certificate "
                "expires); fix: pass --email you@example.com, or --tls selfsigned for a LAN-only site"
            )
        acme_email = _prompt_checked("Contact email for Let's Encrypt", check_email)
    if tls == "provided" and ask:
        tls_certificate = tls_certificate or _prompt_checked("Certificate (full chain) path on the gateway", check_host_path)
        tls_key = tls_key or _prompt_checked("Private key path on the gateway", check_host_path)

    fields = {"host": host, "ssh_user": ssh_user, "ssh_port": ssh_port, "domain": domain, "tls": tls,
              "acme_email": acme_email, "tls_certificate": tls_certificate, "tls_key": tls_key}  # fmt: skip
    site_text = site_file_text(site, str(py_path), fields)
    checked = Site.of(py_path)
    try:
        checked.gateway_entry(checked.parse(site_text))
    except InventoryError as exc:
        fail(exc.problems)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        kept_secrets = secrets_path.exists()
        if not kept_secrets:
            write_atomically(secrets_path, secrets_file_text(site), 0o600)
        write_atomically(toml_path, site_text, 0o644)
        write_atomically(py_path, inventory_file_text(site, str(py_path)), 0o644)
    except OSError as exc:
        fail(f"cannot write the site files in {str(folder)!r}: {exc.strerror or exc}; fix: check the folder and its permissions", EXIT_FAILURE)
    click.echo(f"created {toml_path} (gateway {host}, served as {domain}, tls {tls})")
    click.echo(f"created {py_path} (pyinfra inventory)")
    if kept_secrets:
        click.echo(f"kept    {secrets_path} (it may hold passwords)")
    else:
        click.echo(f"created {secrets_path} (mode 0600, git-ignored)")
    click.echo("next:")
    click.echo(f"  camgate camera add {site if directory == DEFAULT_DIR else py_path} front-door --url rtsp://192.168.1.20:554/stream1 "
               "--username admin --password-prompt")  # fmt: skip
    click.echo(f"  camgate validate {py_path}")
    click.echo(f"  pyinfra {py_path} deploy.py")


# --- camgate camera add|remove|list -------------------------------------------------------------


def _site_or_exit(value: str) -> Site:
    """SITE is a site name (inventory/<name>.py) or the path of a site's .py file."""
    path = Path(site_inventory(value))
    if not path.is_file():
        fail(
            f"SITE: {str(path)!r} does not exist; fix: pass a site name of {DEFAULT_DIR}/ or the path of its .py "
            "file (camgate init NAME creates a site)"
        )
    site = Site.of(path)
    if not site.toml_path.is_file():
        fail(
            f"SITE: {path} declares its gateway in Python, not in a {site.toml_path.name} site file; fix: edit "
            f"{path} by hand (camgate camera edits sites made by camgate init)"
        )
    return site


def _read_site_or_exit(site: Site) -> tuple[str, dict[str, Any]]:
    try:
        text = site.read_text()
        return text, site.parse(text)
    except InventoryError as exc:
        fail(exc.problems)


def _cameras(data: dict[str, Any]) -> list[dict[str, Any]]:
    cameras = data.get("cameras")
    return [c for c in cameras if isinstance(c, dict)] if isinstance(cameras, list) else []


def _secret_refs(data: dict[str, Any]) -> list[str]:
    """Every secret reference of a site file (cameras, app users, the URL signing secret)."""
    gateway = data.get("gateway") if isinstance(data.get("gateway"), dict) else {}
    entries = [*_cameras(data), *(u for u in data.get("app_users") or gateway.get("app_users") or () if isinstance(u, dict))]
    refs = [e.get("password_ref") for e in entries] + [gateway.get("url_secret_ref")]
    return [r for r in refs if isinstance(r, str)]


def _validate_or_exit(site: Site, new_text: str, staged_secrets: Path | None, secrets_path: Path) -> None:
    """The whole site as it would be after the edit, checked like pyinfra will check it."""
    try:
        site.gateway_entry(site.parse(new_text), secrets_file=staged_secrets)
    except InventoryError as exc:
        if staged_secrets is not None:
            staged_secrets.unlink(missing_ok=True)
        # Problems name the real secrets file, not the candidate being checked.
        fail([line.replace(str(staged_secrets), str(secrets_path)) if staged_secrets else line for line in exc.problems])


def _stage_secrets_or_exit(secrets_path: Path, site: Site, edit) -> Path:
    """The secrets file after `edit`, written beside it (0600) and not yet in place."""
    if secrets_path.exists():
        try:
            read_secrets_file(secrets_path)  # mode 0600, valid TOML
            old = secrets_path.read_text(encoding="utf-8")
        except (SecretError, OSError) as exc:
            fail(f"field 'secrets_file': {exc}")
    else:
        old = secrets_file_text(site.name)
    try:
        return stage(secrets_path, edit(old), 0o600)
    except SiteEditError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write beside {str(secrets_path)!r}: {exc.strerror or exc}; fix: check the folder's permissions", EXIT_FAILURE)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@click.group("camera")
def camera() -> None:
    """Add, remove and list the cameras of a site made by `camgate init`; read and tune ONVIF cameras.

    SITE is a site name (inventory/SITE.py) or the path of a site's .py file. Every change is
    validated on the whole site before a file is written. `camgate camera onvif` reads a camera
    through its gateway and changes nothing; `camgate camera tune` sets its keyframe interval.

    \b
    Example:
      camgate camera add mysite front-door --url rtsp://192.168.1.20:554/stream1 --username admin --password-prompt
      camgate camera list mysite
      camgate camera remove mysite front-door
    """


@camera.command("add")
@click.argument("site")
@click.argument("camera_id", metavar="ID")
@click.option("--url", help="rtsp:// or rtsps:// URL without credentials (with --onvif: the camera's main profile).")
@click.option("--sub-url", help="The camera's smaller second stream (with --onvif: its smallest other profile).")
@click.option("--onvif", "onvif_address", metavar="ADDRESS[:PORT]",
              help="Read the stream URLs, bitrate and keyframe interval from the camera over ONVIF, through the gateway.")
@click.option("--name", help="Display name for the app (default: the id).")
@click.option("--username", help="RTSP user name.")
@click.option("--password-stdin", is_flag=True, help="Read the RTSP password from standard input (one line).")
@click.option("--password-prompt", is_flag=True, help="Ask for the RTSP password (hidden, twice).")
@click.option("--transport", help=f"tcp or udp (default: {DEFAULTS['transport']}).")
@click.option("--audio", help=f"copy, aac or none (default: {DEFAULTS['audio']}).")
@click.option("--hls-time", type=int, help=f"Segment length in seconds (default: {DEFAULTS['hls_time']}).")
@click.option("--record/--no-record", default=None, help=f"Keep recordings on the gateway's disk (default: {yes_no(DEFAULTS['record'])}).")
@click.option("--retention", help=f"How long recordings are kept: 30m, 12h, 7d (default: {DEFAULTS['retention']}).")
@click.option("--bitrate-kbps", type=int, help=f"The camera's bitrate for `camgate plan` (default: {DEFAULTS['bitrate_kbps']}).")
@click.option("--encrypt/--no-encrypt", default=None, help=f"AES-128 segment encryption (default: {yes_no(DEFAULTS['encrypt'])}).")
@click.option("--webrtc", help=f"Live view under a second over WebRTC: off, main or sub (default: {DEFAULTS['webrtc']}).")
@click.option("--webrtc-audio", help=f"WebRTC audio: opus, pcma, pcmu or none (default: {DEFAULTS['webrtc_audio']}; camgate probe says which).")
def camera_add(site: str, camera_id: str, url: str | None, sub_url: str | None, onvif_address: str | None,
               name: str | None, username: str | None, password_stdin: bool,
               password_prompt: bool, transport: str | None, audio: str | None, hls_time: int | None,
               record: bool | None, retention: str | None, bitrate_kbps: int | None, encrypt: bool | None,
               webrtc: str | None, webrtc_audio: str | None) -> None:  # fmt: skip
    """Add camera ID to SITE: one [[cameras]] table with the fields that differ from the defaults.

    The password goes to the site's secrets file under the key ID (the file stays 0600) and the
    camera gets password_ref = "secret:ID"; it never appears in the site file or the output.
    With --onvif the camera is read through the gateway first (the same user and password): its
    largest H.264/H.265 profile becomes url, its smallest other one sub_url, and the expected live
    latency is printed (`camgate camera tune` shortens it). Exits 2, changing nothing, when the
    camera or the site would not validate; 1 when the camera cannot be read over ONVIF; 4 when the
    gateway cannot be reached.

    \b
    Example:
      printf '%s' "$PW" | camgate camera add mysite gate --onvif 192.168.1.22 --username admin --password-stdin
      camgate camera add mysite front-door --url rtsp://192.168.1.20:554/stream1 \\
          --name "Front door" --username admin --password-prompt --record --retention 14d
      printf '%s' "$PW" | camgate camera add mysite yard --url rtsp://192.168.1.21/ch1 \\
          --username viewer --password-stdin --audio none --webrtc main
    """
    site_files = _site_or_exit(site)
    text, data = _read_site_or_exit(site_files)
    problem = check_slug(camera_id)
    if problem:
        fail(f"ID: {problem}")
    known = [c.get("id") for c in _cameras(data)]
    if camera_id in known:
        fail(
            f"ID: camera {camera_id!r} already exists in site {site_files.name!r}; fix: choose another id, or "
            f"`camgate camera remove {site} {camera_id}` first"
        )
    if not url and not onvif_address:
        fail("--url: is required; fix: pass --url rtsp://..., or --onvif ADDRESS to read it from the camera")
    password = read_password(password_stdin, password_prompt)
    ref = f"secret:{camera_id}" if password is not None else None
    if password is not None and not username:
        fail("--username: is required with a password; fix: pass --username USER (the camera's RTSP user)")
    onvif = None
    if onvif_address:
        onvif, url, sub_url, bitrate_kbps = _from_onvif(site, site_files, camera_id, onvif_address, username, password,
                                                        url, sub_url, bitrate_kbps, hls_time)  # fmt: skip
    if ref in _secret_refs(data):
        fail(f"ID: the secrets key {camera_id!r} is already used by another entry of the site; fix: choose another camera id")
    given = {"id": camera_id, "name": name, "url": url, "sub_url": sub_url, "onvif": onvif, "username": username, "password_ref": ref, "transport": transport,
             "audio": audio, "hls_time": hls_time, "record": record, "retention": retention,
             "bitrate_kbps": bitrate_kbps, "encrypt": encrypt, "webrtc": webrtc, "webrtc_audio": webrtc_audio}  # fmt: skip
    entry = {
        spec.name: given[spec.name]
        for spec in CAMERA_SPECS
        if spec.name in given and given[spec.name] is not None and (spec.required or given[spec.name] != spec.default)
    }
    try:
        new_text = append_camera(text, entry)
    except SiteEditError as exc:
        fail(str(exc), EXIT_FAILURE)

    secrets_path = site_files.secrets_path(data)
    staged = None
    if password is not None:
        staged = _stage_secrets_or_exit(secrets_path, site_files, lambda old: set_secret(old, camera_id, password))
    _validate_or_exit(site_files, new_text, staged, secrets_path)
    try:
        if staged is not None:
            os.replace(staged, secrets_path)  # first: the site never names a secret that is not there
        write_atomically(site_files.toml_path, new_text, _mode(site_files.toml_path))
    except OSError as exc:
        if staged is not None:
            staged.unlink(missing_ok=True)
        fail(f"cannot write {str(site_files.toml_path)!r}: {exc.strerror or exc}; fix: check the file's permissions", EXIT_FAILURE)
    click.echo(f"added camera {camera_id!r} to {_display(site_files.toml_path)}")
    if password is not None:
        click.echo(f"password stored in {_display(secrets_path)} as {camera_id!r} (mode 0600)")
    click.echo(f"next: camgate validate {_display(site_files.py_path)} && pyinfra {_display(site_files.py_path)} deploy.py")


def _from_onvif(site: str, site_files: Site, camera_id: str, address: str, username: str | None, password: str | None,
               url: str | None, sub_url: str | None, bitrate_kbps: int | None, hls_time: int | None):
    """(onvif field, url, sub_url, bitrate_kbps) for a camera read over ONVIF through the site's
    gateway; what the user gave wins over what the camera says. Prints what it chose and why."""
    host, port = address_or_exit(address, "--onvif")
    entry = pick_gateway(load_inventory_or_exit(str(site_files.py_path)), None)
    device = read_camera_or_exit(entry, host, port, username, password, timeout=20)
    main, sub = main_and_sub(device.profiles)
    if main is None:
        fail(f"--onvif: {host}:{port} ({device.manufacturer} {device.model}) has no H.264 or H.265 profile "
             f"(its profiles: {', '.join(f'{p.name} {p.encoding}' for p in device.profiles)}); fix: set a profile "
             "to H.264 in the camera's web page, or add it with --url and video='transcode'", EXIT_FAILURE)  # fmt: skip
    _print_choice(site, camera_id, f"{host}:{port}", device, main, sub, hls_time or DEFAULTS["hls_time"])
    field = host if port == ONVIF_PORT else f"{host}:{port}"
    return field, url or main.stream_uri, sub_url or (sub.stream_uri if sub else None), bitrate_kbps or main.bitrate_kbps


def _print_choice(site: str, camera_id: str, address: str, device: Device, main: Profile, sub: Profile | None, hls_time: int) -> None:
    click.echo(f"{address}: {device.manufacturer} {device.model}, {len(device.profiles)} profile(s) over ONVIF")
    if device.clock_note:
        click.echo(f"note: {device.clock_note}")
    for role, profile in (("main", main), ("sub", sub)):
        if profile is not None:
            keyframes = f"a keyframe every {profile.keyframe_interval:g} s" if profile.keyframe_interval else "keyframe interval unknown"
            click.echo(f"{role}: profile {profile.name} ({profile.encoding} {profile.width}x{profile.height}, {keyframes}): {profile.stream_uri}")
    latency = expected_latency(hls_time, main.keyframe_interval)
    click.echo(f"expected live latency in a standard player: about {latency} s")
    if main.keyframe_interval and main.keyframe_interval > hls_time:
        click.echo(f"advice: camgate camera tune {site} {camera_id} --keyframe 1s  (about {expected_latency(hls_time, 1)} s)")


@camera.command("remove")
@click.argument("site")
@click.argument("camera_id", metavar="ID")
def camera_remove(site: str, camera_id: str) -> None:
    """Remove camera ID from SITE, and its password from the secrets file.

    The next deploy stops the camera on the gateway and deletes its unit and credentials.
    Exits 2, changing nothing, when the site would not validate without it (e.g. an app user
    still lists it).

    \b
    Example:
      camgate camera remove mysite yard
      pyinfra inventory/mysite.py deploy.py
    """
    site_files = _site_or_exit(site)
    text, data = _read_site_or_exit(site_files)
    cameras = _cameras(data)
    ids = [c.get("id") for c in cameras]
    if camera_id not in ids:
        fail(f"ID: {camera_id!r} is not a camera of site {site_files.name!r}; fix: use one of {', '.join(map(str, ids)) or '(none)'}")
    index = ids.index(camera_id)
    try:
        new_text = remove_camera(text, index)
    except SiteEditError as exc:
        fail(str(exc), EXIT_FAILURE)

    ref = cameras[index].get("password_ref")
    key = ref.removeprefix("secret:") if isinstance(ref, str) and ref.startswith("secret:") else None
    secrets_path = site_files.secrets_path(data)
    staged = None
    if key and ref not in _secret_refs(site_files.parse(new_text)) and secrets_path.exists():
        staged = _stage_secrets_or_exit(secrets_path, site_files, lambda old: remove_secret(old, key))
    _validate_or_exit(site_files, new_text, staged, secrets_path)
    try:
        write_atomically(site_files.toml_path, new_text, _mode(site_files.toml_path))
        if staged is not None:
            os.replace(staged, secrets_path)  # last: the site never names a secret that is gone
    except OSError as exc:
        if staged is not None:
            staged.unlink(missing_ok=True)
        fail(f"cannot write {str(site_files.toml_path)!r}: {exc.strerror or exc}; fix: check the file's permissions", EXIT_FAILURE)
    click.echo(f"removed camera {camera_id!r} from {_display(site_files.toml_path)}")
    if staged is not None:
        click.echo(f"removed its password ({key!r}) from {_display(secrets_path)}")
    click.echo(f"next: pyinfra {_display(site_files.py_path)} deploy.py  (stops it on the gateway)")


@camera.command("list")
@click.argument("site")
def camera_list(site: str) -> None:
    """List the cameras of SITE with their settings (defaults filled in).

    \b
    Example:
      camgate camera list mysite
    """

    site_files = _site_or_exit(site)
    try:
        gateways = load_gateways(site_files.py_path)
    except InventoryError as exc:
        fail(exc.problems)
    yes_no = {True: "yes", False: "no"}
    rows = [
        (c.id, c.name, c.url, c.audio, str(c.hls_time), yes_no[c.record], c.retention, yes_no[c.encrypt], c.webrtc, yes_no[c.enabled])
        for gw in gateways
        for c in gw.cameras
    ]
    if not rows:
        click.echo(f"site {site_files.name!r} has no cameras yet; add one with: camgate camera add {site} ID --url rtsp://...")
        return
    print_table(("ID", "NAME", "URL", "AUDIO", "HLS_TIME", "RECORD", "RETENTION", "ENCRYPT", "WEBRTC", "ENABLED"), rows)


COMMANDS = (init, camera)
