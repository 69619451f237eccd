"""The testbed's ACME server (pebble): config, argv and environment, without starting anything."""

from pathlib import Path

from tests.testbed import pebble
from tests.testbed.layout import Layout

LAYOUT = Layout.create("/srv/tb", 5)
ACME = Path("/srv/tb/acme")


def test_pebble_listens_only_on_the_host_address_and_checks_port_80():
    config = pebble.pebble_config(LAYOUT)["pebble"]
    assert config == {
        "listenAddress": "10.231.5.1:14000",
        "managementListenAddress": "10.231.5.1:15000",
        "certificate": str(ACME / "server.pem"),
        "privateKey": str(ACME / "server.key"),
        "httpPort": 80,
        "tlsPort": 443,
        "ocspResponderURL": "",
        "externalAccountBindingRequired": False,
    }


def test_pebble_resolves_through_challtestsrv():
    assert pebble.pebble_argv(LAYOUT) == [
        "/usr/bin/pebble", "-config", str(ACME / "pebble-config.json"), "-dnsserver", "10.231.5.1:8053",
    ]  # fmt: skip


def test_challtestsrv_is_dns_only_and_answers_the_target():
    argv = pebble.challtestsrv_argv(LAYOUT)
    flags = dict(zip(argv[1::2], argv[2::2]))
    assert argv[0] == "/usr/bin/pebble-challtestsrv"
    assert flags == {
        "-dns01": "10.231.5.1:8053",
        "-management": "10.231.5.1:8055",
        "-http01": "",
        "-https01": "",
        "-tlsalpn01": "",
        "-defaultIPv4": "10.231.5.2",
        "-defaultIPv6": "",
    }


def test_every_process_carries_the_marker_that_finds_strays():
    marker = pebble.dns_address(LAYOUT)
    assert marker in pebble.pebble_argv(LAYOUT) and marker in pebble.challtestsrv_argv(LAYOUT)
    assert marker not in pebble.pebble_argv(Layout.create("/srv/tb", 6))


def test_env_never_skips_validation_nor_uses_a_proxy():
    base = {
        "PATH": "/usr/bin",
        "PEBBLE_VA_ALWAYS_VALID": "1",
        "PEBBLE_WFE_NONCEREJECT": "50",
        "https_proxy": "http://proxy:3128",
        "HTTP_PROXY": "http://proxy:3128",
        "NO_PROXY": "x",
    }
    assert pebble.pebble_env(base) == {"PATH": "/usr/bin", "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}


def test_ca_is_a_self_signed_ca_with_keys_in_the_acme_dir():
    argv = pebble.ca_argv(ACME, "camgate-tb5")
    assert argv[:3] == ["openssl", "req", "-x509"]
    assert argv[argv.index("-keyout") + 1] == str(ACME / "ca.key")
    assert argv[argv.index("-out") + 1] == str(ACME / "ca.pem")
    assert "basicConstraints=critical,CA:TRUE" in argv and "-CA" not in argv


def test_server_certificate_is_signed_by_the_ca_for_the_host_address():
    argv = pebble.server_argv(ACME, "10.231.5.1")
    assert argv[argv.index("-CA") + 1] == str(ACME / "ca.pem")
    assert argv[argv.index("-CAkey") + 1] == str(ACME / "ca.key")
    assert argv[argv.index("-keyout") + 1] == str(ACME / "server.key")
    assert argv[argv.index("-out") + 1] == str(ACME / "server.pem")
    assert "subjectAltName=IP:10.231.5.1,IP:127.0.0.1,DNS:localhost" in argv
    assert "extendedKeyUsage=serverAuth" in argv


def test_state_names_what_certbot_on_the_target_needs():
    assert pebble.acme_state(LAYOUT) == {
        "server": "https://10.231.5.1:14000/dir",
        "ca_bundle": str(ACME / "ca.pem"),
        "roots_url": "https://10.231.5.1:15000/roots/0",
        "dns": "10.231.5.1:8053",
    }
    assert LAYOUT.domain == "tb5.camgate.test"
