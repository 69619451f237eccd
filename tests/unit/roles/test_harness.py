"""The harness keeps its promises: facts come from the simulated host, derived the way the real
commands would report them, and a fact it cannot answer fails the test by name."""

import pytest
from pyinfra import host
from pyinfra.api import FactBase, deploy
from pyinfra.facts.server import Hostname
from pyinfra.operations import server

from roles.facts import Certificate, PathStates, directory_state, file_state

from .harness import Cert, DeployFailed, SimHost, Simulation, UnansweredFact
from .sites import site


class Uptime(FactBase):
    def command(self, unit):
        return f"uptime {unit}"


def ask(sim: SimHost, *questions):
    """Answers to (FactClass, kwargs) questions, asked by a role running on `sim`."""
    answers = []

    @deploy("ask")
    def role():
        answers.extend(host.get_fact(cls, **kwargs) for cls, kwargs in questions)

    Simulation(site(), sim).run(role)
    return answers


def test_a_fact_the_simulated_host_cannot_answer_fails_naming_the_fact_and_its_arguments():
    with pytest.raises(UnansweredFact, match=r"Uptime\(unit='seconds'\)"):
        ask(SimHost(), (Uptime, {"unit": "seconds"}))


def test_a_fact_asked_inside_a_pyinfra_operation_is_answered_by_the_simulated_host_too():
    @deploy("name the host")
    def role():
        server.hostname(name="Host name", hostname="gw1")

    with pytest.raises(UnansweredFact, match=r"server\.Hostname\(\)"):
        Simulation(site(), SimHost()).run(role)
    assert ask(SimHost(extra_facts={Hostname: "gw1"}), (Hostname, {})) == ["gw1"]


def test_path_states_are_what_the_roles_compare_with():
    sim = SimHost(files={"/etc/camgate/x.url": ("rtsp://cam\n", "0600")}, dirs={"/srv/rec": ("0750", "camgate", "camgate")})

    (states,) = ask(sim, (PathStates, {"paths": ("/etc/camgate/x.url", "/srv/rec", "/nowhere")}))

    assert states == {
        "/etc/camgate/x.url": file_state("rtsp://cam\n", "0600"),
        "/srv/rec": directory_state("0750", "camgate", "camgate"),
    }


def test_a_certificate_is_read_through_symlinks_and_a_missing_one_is_none():
    sim = SimHost(
        files={"/etc/tls/a/fullchain.pem": Cert(("cams.example.com", "10.0.0.2"))},
        links={"/etc/tls/current": "/etc/tls/a"},
    )

    found, missing = ask(
        sim,
        (Certificate, {"path": "/etc/tls/current/fullchain.pem"}),
        (Certificate, {"path": "/etc/tls/b/fullchain.pem"}),
    )

    assert found["names"] == ["cams.example.com", "10.0.0.2"]
    assert missing is None


def test_a_command_the_simulated_host_rejects_stops_the_deploy_naming_operation_and_error():
    @deploy("serve")
    def role():
        server.shell(name="Serve nothing", commands=["/usr/local/lib/camgate/camgate-tls-use /etc/camgate/tls/none"])
        server.shell(name="Never reached", commands=["true"])

    simulation = Simulation(site(), SimHost())
    with pytest.raises(DeployFailed, match=r"'Serve nothing' failed: .*has no fullchain.pem/privkey.pem"):
        simulation.run(role)
    assert "true" not in [step.text for steps in simulation.steps.values() for step in steps]
