"""`camgate init` and `camgate camera add|remove|list`: a site as data, edited safely."""

import fnmatch
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from camgate.cli import site as cli_site
from camgate.cli import main
from camgate.inventory import load_inventory
from camgate.model import InventoryError
from camgate.passwords import hash_password
from camgate.site import site_gateways

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = 'Zq7!"pa ss\\w0rd-9f3c'  # quotes, backslash and a space: TOML escaping is exercised


@pytest.fixture()
def run(tmp_path, monkeypatch):
    """Run `camgate ...` in an empty folder; returns the click Result."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli_site, "_interactive", lambda: False)

    def invoke(*args, input=None):
        return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke


@pytest.fixture()
def site(run, tmp_path):
    """A fresh site `mysite` (inventory/mysite.*) made by camgate init."""
    result = run("init", "mysite", "--host", "203.0.113.10", "--domain", "cams.example.com",
                 "--email", "ops@example.com", "--yes")  # fmt: skip
    assert result.exit_code == 0, result.output
    return tmp_path / "inventory"


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_writes_the_three_files_and_they_load_and_validate(site, run):
    assert sorted(files(site)) == ["mysite.py", "mysite.secrets.toml", "mysite.toml"]
    assert mode(site / "mysite.secrets.toml") == 0o600
    assert mode(site / "mysite.toml") == 0o644 and mode(site / "mysite.py") == 0o644
    py = (site / "mysite.py").read_text()
    assert "from camgate.site import site_gateways" in py and "gateways = site_gateways(__file__)" in py
    assert "pyinfra inventory/mysite.py deploy.py" in py  # the docstring says how to deploy
    # The .gitignore of the repository keeps the secrets file out of git.
    ignored = [line for line in (ROOT / ".gitignore").read_text().splitlines() if line and not line.startswith("#")]
    assert any(fnmatch.fnmatch("mysite.secrets.toml", pattern) for pattern in ignored)

    [(gateway, data)] = load_inventory(site / "mysite.py")
    assert (gateway.host, gateway.domain, gateway.tls, gateway.acme_email) == (
        "203.0.113.10", "cams.example.com", "letsencrypt", "ops@example.com")  # fmt: skip
    assert data["ssh_user"] == "root" and data["ssh_port"] == 22
    assert gateway.secrets_file == str(site / "mysite.secrets.toml")
    assert gateway.cameras == ()
    result = run("validate", "inventory/mysite.py")
    assert result.exit_code == 0 and "ok: 1 gateway(s)" in result.output


def test_init_refuses_to_overwrite_a_site_without_force(site, run):
    run("camera", "add", "mysite", "door", "--url", "rtsp://10.0.0.5/ch1", "--username", "admin",
        "--password-stdin", input=PASSWORD)  # fmt: skip
    before = files(site)
    result = run("init", "mysite", "--host", "198.51.100.7", "--tls", "selfsigned", "--yes")
    assert result.exit_code == 2
    assert "already exists" in result.output and "--force" in result.output
    assert files(site) == before

    result = run("init", "mysite", "--host", "198.51.100.7", "--tls", "selfsigned", "--yes", "--force")
    assert result.exit_code == 0, result.output
    assert "kept" in result.output
    assert (site / "mysite.secrets.toml").read_bytes() == before["mysite.secrets.toml"]  # passwords are never lost
    [(gateway, _)] = load_inventory(site / "mysite.py")
    assert gateway.host == "198.51.100.7" and gateway.tls == "selfsigned" and gateway.cameras == ()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--domain", "cams.example.com", "--email", "ops@example.com"], "--host: is required"),
        (["--host", "gw1.example.com"], "--email: is required with --tls letsencrypt"),
        (["--host", "203.0.113.300", "--tls", "selfsigned"], "--host: '203.0.113.300' is not a host name"),
        (["--host", "gw1.example.com", "--email", "ops"], "--email: 'ops' is not an email address"),
        (["--host", "203.0.113.10", "--tls", "letsencrypt", "--email", "ops@example.com"], "field 'domain'"),
        (["--host", "gw1.example.com", "--tls", "off", "--ssh-user", "bad user"], "--ssh-user"),
        (["--host", "gw1.example.com", "--tls", "provided"], "field 'tls_certificate': is required"),
    ],
)
def test_init_rejects_bad_or_missing_values_and_writes_nothing(run, tmp_path, args, message):
    result = run("init", "mysite", "--yes", *args)
    assert result.exit_code == 2
    assert message in result.output and "fix:" in result.output
    assert not (tmp_path / "inventory").exists()


def test_init_rejects_a_site_name_that_is_not_a_slug(run, tmp_path):
    result = run("init", "My Site", "--host", "gw1.example.com", "--tls", "off", "--yes")
    assert result.exit_code == 2 and "SITE:" in result.output
    assert not (tmp_path / "inventory").exists()


def test_init_defaults_an_address_to_selfsigned_and_honours_dir(run, tmp_path):
    result = run("init", "lab", "--host", "192.168.1.50", "--ssh-port", "2222", "--dir", "sites", "--yes")
    assert result.exit_code == 0, result.output
    [(gateway, data)] = load_inventory(tmp_path / "sites/lab.py")
    assert (gateway.domain, gateway.tls, data["ssh_port"]) == ("192.168.1.50", "selfsigned", 2222)
    assert "# acme_email" in (tmp_path / "sites/lab.toml").read_text()  # shown, commented out


def test_init_with_a_provided_certificate(run, tmp_path):
    result = run("init", "office", "--host", "gw.corp.example", "--tls", "provided", "--yes",
                 "--tls-certificate", "/etc/ssl/cams/fullchain.pem", "--tls-key", "/etc/ssl/private/cams.key")  # fmt: skip
    assert result.exit_code == 0, result.output
    [(gateway, _)] = load_inventory(tmp_path / "inventory/office.py")
    assert (gateway.tls, gateway.tls_certificate, gateway.tls_key) == (
        "provided", "/etc/ssl/cams/fullchain.pem", "/etc/ssl/private/cams.key")  # fmt: skip


def test_init_asks_for_what_the_flags_leave_out_on_a_terminal(run, tmp_path, monkeypatch):
    monkeypatch.setattr(cli_site, "_interactive", lambda: True)
    answers = "not a host!\ngw1.example.com\nadmin\n2200\n\nletsencrypt\nops@example.com\n"
    result = run("init", "shop", input=answers)
    assert result.exit_code == 0, result.output
    assert "is not a host name" in result.output  # asked again
    [(gateway, data)] = load_inventory(tmp_path / "inventory/shop.py")
    assert (gateway.host, gateway.domain, gateway.tls, gateway.acme_email) == (
        "gw1.example.com", "gw1.example.com", "letsencrypt", "ops@example.com")  # fmt: skip
    assert (data["ssh_user"], data["ssh_port"]) == ("admin", 2200)


def test_camera_add_list_remove_round_trip(site, run):
    result = run("camera", "add", "mysite", "front-door", "--url", "rtsp://192.168.1.20:554/stream1",
                 "--name", "Front door", "--username", "admin", "--password-stdin", "--record",
                 "--retention", "14d", "--bitrate-kbps", "4000", input=PASSWORD + "\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    result = run("camera", "add", "inventory/mysite.py", "yard", "--url", "rtsp://192.168.1.21/ch1",
                 "--audio", "none", "--hls-time", "4", "--encrypt", "--webrtc", "main")  # fmt: skip
    assert result.exit_code == 0, result.output

    [(gateway, _)] = load_inventory(site / "mysite.py")
    door, yard = gateway.cameras
    assert (door.id, door.name, door.username, door.password_ref, door.record, door.retention, door.bitrate_kbps) == (
        "front-door", "Front door", "admin", "secret:front-door", True, "14d", 4000)  # fmt: skip
    assert (yard.id, yard.audio, yard.hls_time, yard.encrypt, yard.record, yard.webrtc) == ("yard", "none", 4, True, False, "main")

    result = run("camera", "list", "mysite")
    assert result.exit_code == 0
    header, *rows = result.output.splitlines()
    assert header.split() == ["ID", "NAME", "URL", "AUDIO", "HLS_TIME", "RECORD", "RETENTION", "ENCRYPT", "WEBRTC", "ENABLED"]
    assert rows[0].split() == ["front-door", "Front", "door", "rtsp://192.168.1.20:554/stream1", "aac", "2", "yes", "14d", "no", "off", "yes"]
    assert rows[1].split() == ["yard", "yard", "rtsp://192.168.1.21/ch1", "none", "4", "no", "7d", "yes", "main", "yes"]

    result = run("camera", "remove", "mysite", "front-door")
    assert result.exit_code == 0, result.output
    [(gateway, _)] = load_inventory(site / "mysite.py")
    assert [c.id for c in gateway.cameras] == ["yard"]
    assert "front-door" not in (site / "mysite.secrets.toml").read_text().split("# app-alice")[-1]
    assert mode(site / "mysite.secrets.toml") == 0o600
    result = run("camera", "remove", "mysite", "yard")
    assert result.exit_code == 0
    assert "has no cameras yet" in run("camera", "list", "mysite").output


def test_added_table_holds_only_the_fields_that_differ_from_the_defaults(site, run):
    before = (site / "mysite.toml").read_text()
    result = run("camera", "add", "mysite", "porch", "--url", "rtsp://10.0.0.9/live", "--audio", "aac",
                 "--hls-time", "2", "--no-record", "--no-encrypt", "--retention", "7d", "--transport", "udp")  # fmt: skip
    assert result.exit_code == 0, result.output
    after = (site / "mysite.toml").read_text()
    assert after.startswith(before)
    assert after[len(before):] == '\n[[cameras]]\nid = "porch"\nurl = "rtsp://10.0.0.9/live"\ntransport = "udp"\n'


def test_the_password_lands_only_in_the_secrets_file(site, run):
    result = run("camera", "add", "mysite", "door", "--url", "rtsp://10.0.0.5/ch1", "--username", "admin",
                 "--password-stdin", input=PASSWORD + "\n")  # fmt: skip
    assert result.exit_code == 0
    assert PASSWORD not in result.output
    for name in ("mysite.toml", "mysite.py"):
        assert PASSWORD not in (site / name).read_text()
    assert 'password_ref = "secret:door"' in (site / "mysite.toml").read_text()
    assert mode(site / "mysite.secrets.toml") == 0o600
    [(gateway, _)] = load_inventory(site / "mysite.py")
    from camgate.secrets import resolve_secret

    assert resolve_secret("secret:door", gateway.secrets_file) == PASSWORD
    assert sorted(p.name for p in site.iterdir()) == ["mysite.py", "mysite.secrets.toml", "mysite.toml"]  # no temp files
    listing = run("camera", "list", "mysite").output + run("validate", "inventory/mysite.py").output
    assert PASSWORD not in listing


def test_the_password_may_be_typed_at_a_hidden_prompt(site, run):
    result = run("camera", "add", "mysite", "door", "--url", "rtsp://10.0.0.5/ch1", "--username", "admin",
                 "--password-prompt", input=f"{PASSWORD}\n{PASSWORD}\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert PASSWORD in (site / "mysite.secrets.toml").read_text().replace('\\"', '"').replace("\\\\", "\\")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["Front_Door", "--url", "rtsp://10.0.0.5/ch1"], "ID: 'Front_Door' is not a valid id"),
        (["door", "--url", "rtsp://admin:hunter2@10.0.0.5/ch1"], "field 'url': embeds credentials"),
        (["door", "--url", "rtsp://10.0.0.5/ch1", "--hls-time", "0"], "field 'hls_time': 0 is out of range"),
        (["door", "--url", "http://10.0.0.5/ch1"], "field 'url': scheme 'http' is not supported"),
        (["door", "--url", "rtsp://10.0.0.5/ch1", "--audio", "mp3"], "field 'audio'"),
        (["door", "--url", "rtsp://10.0.0.5/ch1", "--retention", "forever"], "field 'retention'"),
        (["door", "--url", "rtsp://10.0.0.5/ch1", "--password-stdin"], "--username: is required with a password"),
    ],
)
def test_an_invalid_camera_changes_nothing_and_exits_2_naming_the_field(site, run, args, field):
    run("camera", "add", "mysite", "yard", "--url", "rtsp://10.0.0.6/ch1", "--username", "u", "--password-stdin", input="pw1")
    before = files(site)
    result = run("camera", "add", "mysite", *args, input="s3cret-pw\n")
    assert result.exit_code == 2
    assert field in result.output and "fix:" in result.output
    assert "hunter2" not in result.output and "s3cret-pw" not in result.output
    assert files(site) == before  # byte-identical, and no temporary file left behind


def test_a_camera_id_is_used_once(site, run):
    run("camera", "add", "mysite", "door", "--url", "rtsp://10.0.0.5/ch1")
    before = files(site)
    result = run("camera", "add", "mysite", "door", "--url", "rtsp://10.0.0.6/ch1")
    assert result.exit_code == 2 and "already exists" in result.output
    assert files(site) == before


HAND_EDITED = '''\
# Shop on Main Street: installed 2026-03, ask Bob for the NVR login.
[gateway]
host = "203.0.113.10"  # the router forwards 22 to the gateway
ssh_user = "root"
domain = "cams.example.com"
tls = "letsencrypt"
acme_email = "ops@example.com"

# Cameras, by floor.

# Ground floor door, replaced in 2026
[[cameras]]
id = "door"
url = "rtsp://10.0.0.5/ch1"  # main stream, sub stream is ch2

[[cameras]]
id = "till"
url = "rtsp://10.0.0.7/ch1"
audio = "none"  # no microphone

# keep this last line
'''


def test_comments_survive_add_and_remove(site, run):
    toml = site / "mysite.toml"
    toml.write_text(HAND_EDITED)
    result = run("camera", "add", "mysite", "stock", "--url", "rtsp://10.0.0.8/ch1", "--record")
    assert result.exit_code == 0, result.output
    added = toml.read_text()
    assert added.startswith(HAND_EDITED)
    assert run("camera", "remove", "mysite", "stock").exit_code == 0
    assert toml.read_text() == HAND_EDITED  # add then remove: byte-identical

    assert run("camera", "remove", "mysite", "door").exit_code == 0
    text = toml.read_text()
    assert "Ground floor door" not in text and "sub stream" not in text  # the door's own comments go with it
    for comment in ("# Shop on Main Street", "# the router forwards", "# Cameras, by floor.", "# no microphone",
                    "# keep this last line"):  # fmt: skip
        assert comment in text
    assert text == HAND_EDITED.replace(
        '# Ground floor door, replaced in 2026\n[[cameras]]\nid = "door"\nurl = "rtsp://10.0.0.5/ch1"  # main stream, sub stream is ch2\n\n',
        "",
    )


def test_removing_a_camera_an_app_user_still_sees_changes_nothing(site, run):
    secrets = site / "mysite.secrets.toml"
    secrets.write_text(secrets.read_text() + f'app-guard = "{hash_password("guard-password-1")}"\n')
    run("camera", "add", "mysite", "door", "--url", "rtsp://10.0.0.5/ch1", "--username", "admin", "--password-stdin", input="pw")
    toml = site / "mysite.toml"
    toml.write_text(toml.read_text() + '\n[[app_users]]\nname = "guard"\npassword_ref = "secret:app-guard"\ncameras = ["door"]\n')
    assert run("validate", "inventory/mysite.py").exit_code == 0
    before = files(site)
    result = run("camera", "remove", "mysite", "door")
    assert result.exit_code == 2
    assert "app user 'guard': field 'cameras'" in result.output
    assert files(site) == before


def test_site_argument_errors(site, run, tmp_path):
    result = run("camera", "list", "nosuchsite")
    assert result.exit_code == 2 and "inventory/nosuchsite.py" in result.output and "camgate init" in result.output
    (tmp_path / "inventory/python.py").write_text("gateways = []\n")
    result = run("camera", "add", "python", "door", "--url", "rtsp://10.0.0.5/ch1")
    assert result.exit_code == 2 and "by hand" in result.output
    result = run("camera", "remove", "mysite", "ghost")
    assert result.exit_code == 2 and "'ghost' is not a camera" in result.output


def test_a_secrets_file_readable_by_others_is_refused(site, run):
    (site / "mysite.secrets.toml").chmod(0o644)
    before = files(site)
    result = run("camera", "add", "mysite", "door", "--url", "rtsp://10.0.0.5/ch1", "--username", "a",
                 "--password-stdin", input="pw")  # fmt: skip
    assert result.exit_code == 2 and "chmod 600" in result.output
    assert files(site) == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[gateway\nhost = 1", "is not valid TOML"),
        ('[gateway]\ndomain = "cams.example.com"\n', "field 'host': is required"),
        ('[gatway]\nhost = "gw1.example.com"\n', "'gatway' is not a site section"),
        ('[gateway]\nhost = "gw1.example.com"\nssh_port = "22"\ntls = "off"\n', "field 'ssh_port'"),
        ('[gateway]\nhost = "gw1.example.com"\ntls = "off"\nhls_tim = 2\n', "did you mean"),
        ('[gateway]\nhost = "gw1.example.com"\ntls = "off"\n[[cameras]]\nid = "a"\n', "field 'url': is required"),
    ],
)
def test_site_file_problems_name_the_field_and_the_fix(tmp_path, text, message):
    (tmp_path / "s.toml").write_text(text)
    with pytest.raises(InventoryError) as exc:
        site_gateways(tmp_path / "s.py")
    assert message in str(exc.value) and "fix:" in str(exc.value)


def test_site_paths_are_relative_to_the_site_file(tmp_path, monkeypatch):
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "s.toml").write_text(
        '[gateway]\nhost = "gw1.example.com"\nacme_email = "ops@example.com"\n'
        'acme_server = "https://acme.internal/dir"\nacme_ca_bundle = "ca.pem"\nssh_key = "keys/id"\n'
    )
    monkeypatch.chdir("/")
    [(_host, data)] = site_gateways(tmp_path / "s.py")
    assert data["camgate"]["acme_ca_bundle"] == str(tmp_path / "ca.pem")
    assert data["camgate"]["secrets_file"] == str(tmp_path / "s.secrets.toml")
    assert data["ssh_key"] == str(tmp_path / "keys/id")


@pytest.mark.parametrize("command", [["init"], ["camera"], ["camera", "add"], ["camera", "remove"], ["camera", "list"]])
def test_every_command_has_help_with_an_example(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Example:" in result.output
