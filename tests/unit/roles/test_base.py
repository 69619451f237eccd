"""roles.base on a simulated host: a release without njs stops the deploy before its first operation;
the one apt run takes node exporter only once its drop-in is in place."""

import pytest
from pyinfra.api.exceptions import DeployError

from camgate import paths
from camgate.passwords import hash_password
from roles.base import base, gateway_packages
from roles.cameras import cameras
from roles.metrics import metrics, metrics_first_start
from roles.operations import put

from .harness import NOW, Entry, SimHost, Simulation, converge, deploy
from .sites import HOST, site


@pytest.mark.parametrize("distro", [("ubuntu", "22.04"), ("ubuntu", "20.04"), ("debian", "11")])
def test_a_release_without_njs_stops_the_deploy_before_any_operation(distro):
    distro_id, release = distro
    simulation = Simulation(site(), SimHost(distro=distro))

    with pytest.raises(DeployError) as raised:
        simulation.run(base, cameras)

    message = str(raised.value)
    assert f"host {HOST!r}: {distro_id} {release} ships no njs module" in message
    assert "fix: use Debian 12 or Ubuntu 24.04 (or newer)" in message
    assert simulation.declared() == []
    assert simulation.steps == {}


@pytest.mark.parametrize("distro", [("debian", "12"), ("ubuntu", "24.04"), ("debian", "13")])
def test_a_release_with_njs_proceeds(distro):
    result = deploy(base, site(), SimHost(distro=distro))

    assert result.changes()[0] == "Refresh apt lists (at most hourly)"
    assert "User camgate" in result.changes()


@pytest.mark.parametrize("minutes_ago, refreshed", [(59, False), (61, True)])
def test_apt_lists_are_refreshed_when_older_than_an_hour(minutes_ago, refreshed):
    host = SimHost()
    host._add("/var/lib/apt/periodic/update-success-stamp", Entry("file", mtime=int(NOW.timestamp()) - minutes_ago * 60))

    result = deploy(base, site(), host)

    assert ("Refresh apt lists (at most hourly)" in result.changes()) == refreshed


def test_base_is_done_once():
    first, again = converge(base, site())

    assert first.changed
    assert again.changes() == []


def test_hide_processes_false_removes_the_hidepid_unit_it_left():
    _, settled = converge(base, site(hide_processes=True))

    result = deploy(base, site(hide_processes=False), settled.host_after())

    assert result.changes() == ["Show processes again", "Remove camgate-hidepid.service"]
    assert result.host_after().lookup("/etc/systemd/system/camgate-hidepid.service") is None


def install_commands(result) -> dict[str, str]:
    return {op.name: " ".join(op.commands) for op in result.ops if op.name.startswith("Install")}


def test_node_exporter_comes_in_the_one_apt_run_only_after_its_drop_in(monkeypatch):
    monkeypatch.setenv("CAMGATE_TEST_METRICS_HASH", hash_password("scrape password 1"))
    metrics_site = site(metrics_from=["198.51.100.7"], metrics_password_ref="env:CAMGATE_TEST_METRICS_HASH")

    in_order = deploy([base, metrics_first_start, gateway_packages, metrics], metrics_site)
    # Without the drop-in in place the package would start node exporter on every address.
    drop_in_missing = deploy([base, gateway_packages, metrics], metrics_site)

    assert list(install_commands(in_order)) == ["Install the gateway's packages"]
    assert "prometheus-node-exporter" in install_commands(in_order)["Install the gateway's packages"]
    installs = install_commands(drop_in_missing)
    assert "prometheus-node-exporter" not in installs["Install the gateway's packages"]
    changes = drop_in_missing.changes()
    assert changes.index("prometheus-node-exporter.service drop-in") < changes.index("Install prometheus-node-exporter")


def test_a_file_put_twice_in_one_deploy_is_one_operation_and_must_not_differ(monkeypatch):
    monkeypatch.setenv("CAMGATE_TEST_METRICS_HASH", hash_password("scrape password 1"))
    metrics_site = site(metrics_from=["198.51.100.7"], metrics_password_ref="env:CAMGATE_TEST_METRICS_HASH")

    def put_it_differently() -> None:
        put(name="again", content="other\n", dest=paths.NODE_EXPORTER_DROPIN)

    assert deploy([base, metrics_first_start, metrics_first_start], metrics_site).changes().count("prometheus-node-exporter.service drop-in") == 1
    with pytest.raises(ValueError, match="put twice in one deploy with different content"):
        deploy([base, metrics_first_start, put_it_differently], metrics_site)
