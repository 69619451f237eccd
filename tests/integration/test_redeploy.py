"""Re-running a deploy changes nothing; a camera taken out of the inventory is converged away."""

import re

from camgate.hls import fetch, wait_for_playlist
from tests.conftest import phase


def grand_total(output: str) -> dict[str, str]:
    """pyinfra's own summary row: Grand total <hosts> <success> <error> <no change>."""
    match = re.search(r"Grand total\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", output)
    assert match, f"no pyinfra summary in:\n{output}"
    return dict(zip(("hosts", "success", "error", "no_change"), match.groups()))


def test_second_deploy_reports_no_changes(first_deploy, deployer):
    with phase("no-op re-deploy"):
        result = deployer.run()
    total = grand_total(result.stdout + result.stderr)
    assert total["success"] == "-", f"a re-deploy changed something:\n{result.stdout}{result.stderr}"
    assert total["error"] == "-"


def test_removed_camera_is_stopped_deleted_and_its_url_404s(gateway, deployer, host):
    url = gateway.hls_url(gateway.camera("cam3"))
    wait_for_playlist(url, timeout=30)
    with phase("deploy without cam3"):
        deployer.run(cameras=["cam1", "cam2"])
    assert not host.file("/etc/systemd/system/camgate-camera-cam3.service").exists
    assert not host.file("/etc/camgate/credentials/cam3.url").exists
    assert host.run("systemctl is-active camgate-camera-cam3").stdout.strip() in ("inactive", "unknown")
    assert not host.file("/run/camgate/hls/cam3").exists
    assert fetch(url).status == 404
    assert host.service("camgate-camera-cam1").is_running
    wait_for_playlist(gateway.hls_url(gateway.camera("cam1")), timeout=10)
