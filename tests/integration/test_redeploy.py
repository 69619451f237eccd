"""Re-running a deploy changes nothing; a camera taken out of the inventory is converged away."""

import pytest

from tests.conftest import phase
from tests.integration.conftest import grand_total

pytestmark = pytest.mark.every_release  # part of the subset every tested release runs (conftest.EVERY_RELEASE)


def test_second_deploy_changes_nothing_and_keeps_the_certificate(first_deploy, deployer, gateway, client):
    serial = client.peer_certificate(gateway.base_url)["serialNumber"]
    with phase("no-op re-deploy"):
        result = deployer.run()
    total = grand_total(result.stdout + result.stderr)
    assert total["success"] == "-", f"a re-deploy changed something:\n{result.stdout}{result.stderr}"
    assert total["error"] == "-"
    assert client.peer_certificate(gateway.base_url)["serialNumber"] == serial


def test_removed_camera_is_stopped_deleted_and_its_url_404s(gateway, deployer, host, client, signed):
    url = signed("cam3")
    client.wait_for_playlist(url, timeout=30)
    with phase("deploy without cam3"):
        deployer.run(cameras=["cam1", "cam2"])
    assert not host.file("/etc/systemd/system/camgate-camera-cam3.service").exists
    assert not host.file("/etc/camgate/credentials/cam3.url").exists
    assert host.run("systemctl is-active camgate-camera-cam3").stdout.strip() in ("inactive", "unknown")
    assert not host.file("/run/camgate/hls/cam3").exists
    assert client.fetch(url).status == 404
    assert host.service("camgate-camera-cam1").is_running
    client.wait_for_playlist(signed("cam1"), timeout=10)
