"""Secrets never leak: a camera password, the URL signing secret, the app users' and the metrics
user's passwords and the TURN secret (which signs the WebRTC tokens) are in no pyinfra output (not even -vvv), no directory nginx serves, no
unit file, no world-readable file, no journal line, and other users cannot read the camera URL (or
coturn's secret) from the process list."""

from urllib.parse import quote

import pytest

from camgate.paths import LINK_SECRET_CONF, TURN_SECRET_CONF, WEBRTC_SECRETS
from tests.conftest import phase

PATTERNS = "/root/.camgate-leak-patterns"
SERVED_DIRS = "/run/camgate /var/lib/camgate/acme /var/www /usr/share/nginx /etc/nginx/camgate/camgate.js"


@pytest.fixture(scope="module")
def verbose_redeploy(host, deployer):
    """Remove the files that carry secrets, so a -vvv deploy must upload or make them again."""
    host.run_expect(
        [0],
        f"rm -f /etc/camgate/credentials/cam3.url /etc/camgate/nginx/app-users.htpasswd /etc/camgate/nginx/metrics.htpasswd {LINK_SECRET_CONF} "
        f"{WEBRTC_SECRETS} {TURN_SECRET_CONF}",
    )
    with phase("deploy -vvv re-creating every secret"):
        return deployer.run(verbose=True)


@pytest.fixture(scope="module")
def secrets(verbose_redeploy, host, state) -> list[str]:
    camera_password = next(c["password"] for c in state["cameras"] if c.get("password"))
    link = host.file(LINK_SECRET_CONF).content_string.split('"')[1]
    webrtc = dict(line.split("=", 1) for line in host.file(WEBRTC_SECRETS).content_string.splitlines() if "=" in line)
    values = [camera_password, quote(camera_password, safe=""), link, webrtc["CAMGATE_TURN_SECRET"]]
    values += [user["password"] for user in state["app_users"].values()] + [state["metrics"]["password"]]
    # Root-only on the host, so the searches below can read patterns without putting them in argv.
    host.run_expect([0], f"install -m 600 /dev/null {PATTERNS}")
    for value in values:
        host.run_expect([0], f"printf '%s\\n' {quote_sh(value)} >> {PATTERNS}")
    yield values
    host.run(f"rm -f {PATTERNS}")


def quote_sh(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def test_the_verbose_deploy_really_rewrote_the_secrets(verbose_redeploy, host):
    assert verbose_redeploy.returncode == 0
    assert host.file("/etc/camgate/credentials/cam3.url").exists
    for secret_file in (LINK_SECRET_CONF, WEBRTC_SECRETS, TURN_SECRET_CONF):
        assert host.file(secret_file).mode == 0o600 and host.file(secret_file).user == "root"


def test_pyinfra_output_even_at_vvv_shows_no_secret(verbose_redeploy, secrets):
    output = verbose_redeploy.stdout + verbose_redeploy.stderr
    assert "Connecting" in output or "Loading" in output  # it is pyinfra's full output
    for value in secrets:
        assert value not in output


def test_no_secret_in_served_directories_or_unit_files(host, secrets):
    for place in (SERVED_DIRS, "/etc/systemd/system /lib/systemd/system"):
        result = host.run(f"grep -rlF -f {PATTERNS} {place}")
        assert result.rc == 1, f"secret found in: {result.stdout}"


def test_no_secret_in_any_world_readable_file(host, secrets):
    result = host.run(
        "find / -xdev \\( -path /proc -o -path /sys \\) -prune -o -type f -perm -o=r -print0 "
        f"| xargs -0 grep -lF -f {PATTERNS}"
    )
    assert result.stdout.strip() == "", f"world-readable files holding a secret: {result.stdout}"


def test_no_secret_in_the_journal(host, secrets):
    assert host.run(f"journalctl --no-pager -o cat | grep -cF -f {PATTERNS}").stdout.strip() == "0"


def test_other_users_cannot_see_the_camera_url_in_the_process_list(host, secrets):
    assert host.run("ps -eo args | grep -c '^/usr/bin/ffmpeg'").stdout.strip() != "0"  # root sees them
    # coturn takes its secret on the command line: hidden the same way.
    assert host.run("ps -eo args | grep -c '^/usr/bin/turnserver'").stdout.strip() == "1"
    as_nginx = host.run("runuser -u www-data -- ps -eo args")
    assert "ffmpeg" not in as_nginx.stdout
    assert host.run(f"runuser -u www-data -- ps -eo args | grep -cF -f {PATTERNS}").stdout.strip() == "0"
