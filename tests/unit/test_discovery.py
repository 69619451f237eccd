"""WS-Discovery, the pure parts: what the gateway script makes of each datagram and request
(camgate/gateway/discovery.py), and what `camgate camera discover` shows of its report
(camgate/cli/discover.py), down to the command's output and exit codes with the gateway replaced."""

from __future__ import annotations

import json
import random

import pytest
from click.testing import CliRunner

from camgate import remote
from camgate.cli import discover as cli
from camgate.cli import main
from camgate.gateway import discovery
from camgate.model import parse_gateway

OURS = "urn:uuid:0b1e5d3c-9a4f-4c1e-8f00-000000000001"
CAMERA_SCOPES = ("onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/hardware/DS-2CD2143G2-I "
                 "onvif://www.onvif.org/name/HIKVISION%20DS-2CD2143G2-I onvif://www.onvif.org/location/city/hangzhou")


def answer(relates_to: str = OURS, types: str = "dn:NetworkVideoTransmitter tds:Device", scopes: str = CAMERA_SCOPES,
           xaddrs: str = "http://192.168.1.20/onvif/device_service", endpoint: str = "urn:uuid:cam-1",
           dn: str = "http://www.onvif.org/ver10/network/wsdl") -> bytes:
    """A ProbeMatches as cameras send it (SOAP 1.2, WS-Addressing 2004/08, WS-Discovery 2005/04)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope"
 xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"
 xmlns:dn="{dn}" xmlns:tds="http://www.onvif.org/ver10/device/wsdl"
 xmlns:wsdp="http://schemas.xmlsoap.org/ws/2006/02/devprof">
<SOAP-ENV:Header><wsa:MessageID>urn:uuid:reply-1</wsa:MessageID><wsa:RelatesTo>{relates_to}</wsa:RelatesTo>
<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action></SOAP-ENV:Header>
<SOAP-ENV:Body><d:ProbeMatches><d:ProbeMatch>
<wsa:EndpointReference><wsa:Address>{endpoint}</wsa:Address></wsa:EndpointReference>
<d:Types>{types}</d:Types><d:Scopes>{scopes}</d:Scopes><d:XAddrs>{xaddrs}</d:XAddrs>
<d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>""".encode()


# --- the gateway script: one datagram ----------------------------------------------------------------


def test_a_cameras_probe_matches_gives_its_endpoint_types_scopes_and_xaddrs():
    found, reason = discovery.read_answer(answer(xaddrs="http://192.168.1.20/onvif/device_service http://[fe80::1]/onvif/device_service"), OURS)
    assert reason is None
    assert found == [{"endpoint": "urn:uuid:cam-1", "types": ["dn:NetworkVideoTransmitter", "tds:Device"],
                      "scopes": CAMERA_SCOPES.split(),
                      "xaddrs": ["http://192.168.1.20/onvif/device_service", "http://[fe80::1]/onvif/device_service"]}]  # fmt: skip


def test_an_answer_to_another_probe_is_skipped_naming_both_message_ids():
    found, reason = discovery.read_answer(answer(relates_to="urn:uuid:someone-else"), OURS)
    assert found == []
    assert reason == f"not a ProbeMatches answering our probe: RelatesTo is urn:uuid:someone-else, our probe was {OURS}"


def test_a_printer_is_skipped_as_not_onvif_naming_its_types_and_endpoint():
    found, reason = discovery.read_answer(answer(types="wsdp:Device wprt:PrintDeviceType", scopes=""), OURS)
    assert found == [] and reason == "not an ONVIF device: types wsdp:Device wprt:PrintDeviceType (urn:uuid:cam-1)"


def test_onvif_types_are_matched_by_namespace_not_by_prefix():
    # The same local name in a foreign namespace is not ONVIF (and without onvif:// scopes nothing says it is)...
    found, reason = discovery.read_answer(answer(types="dn:NetworkVideoTransmitter", scopes="", dn="urn:other"), OURS)
    assert found == [] and reason.startswith("not an ONVIF device")
    # ...while ONVIF's namespace under any prefix is, and so is a device with onvif:// scopes.
    assert discovery.read_answer(answer(types="tds:Device"), OURS)[0]
    assert discovery.read_answer(answer(types="dn:NetworkVideoTransmitter", dn="urn:other"), OURS)[0]


@pytest.mark.parametrize("data, reason", [
    (b"", "malformed XML: "),
    (b"\x00\xff\xfe garbage", "malformed XML: "),
    (answer()[:300], "malformed XML: "),
    (b"<a><b></a>", "malformed XML: "),
    (b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aa'>]><x>&a;&b;</x>", "malformed XML: "),
    (b"<x/>", "not a ProbeMatches answering our probe: no ProbeMatches in its body (action none)"),
    (answer().replace(b"d:ProbeMatches>", b"d:ResolveMatches>"), "not a ProbeMatches answering our probe: no ProbeMatches"),
    (answer().replace(b"<wsa:Address>urn:uuid:cam-1</wsa:Address>", b""),
     "not a ProbeMatches answering our probe: a ProbeMatch without an EndpointReference address"),
])  # fmt: skip
def test_anything_but_a_probe_matches_is_skipped_with_why_and_never_raises(data, reason):
    found, why = discovery.read_answer(data, OURS)
    assert found == [] and why.startswith(reason), why


def test_the_probe_asks_for_onvif_video_transmitters_with_our_message_id():
    probe = discovery.probe_message(OURS).decode()
    assert f"<wsa:MessageID>{OURS}</wsa:MessageID>" in probe
    assert "<d:Types>dn:NetworkVideoTransmitter</d:Types>" in probe and 'xmlns:dn="http://www.onvif.org/ver10/network/wsdl"' in probe
    assert "http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</wsa:Action>" in probe
    assert "<wsa:To env:mustUnderstand=\"true\">urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To>" in probe


def test_the_probe_is_sent_three_times_within_soap_over_udps_delays():
    for seed in range(50):
        first, second, third = discovery.send_times(100.0, random.Random(seed))
        assert first == 100.0 and 0.05 <= second - first <= 0.25
        assert third - second == pytest.approx(min(2 * (second - first), 0.5))


# --- the gateway script: its request and its host ------------------------------------------------------


def test_a_request_gets_defaults_and_each_bad_field_is_named_with_what_it_must_be():
    assert discovery.read_request("{}") == {"wait": 3.0, "to": None, "interfaces": None, "table": None, "open_firewall": True}
    for text, message in [
        ("[]", "the request must be a JSON object"),
        ("{", "the request is not JSON"),
        ('{"wait": 0}', "wait: 0 must be a number of seconds, more than 0 and at most 30"),
        ('{"wait": 31}', "wait: 31 must be a number"),
        ('{"wait": true}', "wait: True must be a number"),
        ('{"interfaces": "10.0.0.1"}', "interfaces: '10.0.0.1' must be a list of the gateway's IPv4 addresses"),
        ('{"interfaces": ["10.0.0.256"]}', "interfaces: ['10.0.0.256'] must be a list"),
        ('{"to": "10.0.0.1:0"}', "to: '10.0.0.1:0' must be an IPv4 ADDRESS or ADDRESS:PORT"),
        ('{"table": "x; drop"}', "table: 'x; drop' is not an nftables table name"),
    ]:
        with pytest.raises(discovery.BadRequest) as caught:
            discovery.read_request(text)
        assert str(caught.value).startswith(message), (text, str(caught.value))


def test_a_directed_probe_goes_to_port_3702_unless_told():
    assert discovery.split_target("192.168.1.20") == ("192.168.1.20", 3702)
    assert discovery.split_target("192.168.1.20:3703") == ("192.168.1.20", 3703)
    assert discovery.split_target("camera.local") is None


def test_the_gateways_addresses_are_every_ipv4_address_but_loopbacks():
    ip_json = """[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"addr_info":[{"family":"inet","local":"127.0.0.1"}]},
    {"ifindex":2,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP"],"addr_info":[{"family":"inet","local":"203.0.113.10","prefixlen":24},
     {"family":"inet","local":"203.0.113.11","prefixlen":24}]},
    {"ifindex":3,"ifname":"eth1","flags":["BROADCAST","MULTICAST","UP"],"addr_info":[{"family":"inet","local":"192.168.1.1","prefixlen":24}]},
    {"ifindex":4,"ifname":"dummy0","flags":["BROADCAST"],"addr_info":[{"family":"inet","local":"127.0.1.1"}]}]"""
    assert discovery.local_addresses(ip_json) == ["203.0.113.10", "203.0.113.11", "192.168.1.1"]
    assert discovery.local_addresses("not json") == [] and discovery.local_addresses("{}") == []


# --- the operator's side: what the table shows ---------------------------------------------------------


def test_maker_and_model_come_url_decoded_from_the_name_and_hardware_scopes():
    assert cli.maker_model(CAMERA_SCOPES.split()) == ("HIKVISION DS-2CD2143G2-I", "DS-2CD2143G2-I")
    assert cli.maker_model_cell(CAMERA_SCOPES.split()) == "HIKVISION DS-2CD2143G2-I"  # the model once
    assert cli.maker_model_cell(["onvif://www.onvif.org/name/Front%20gate", "onvif://www.onvif.org/hardware/IPC-HDW2431T"]) == "Front gate / IPC-HDW2431T"
    assert cli.maker_model_cell(["onvif://www.onvif.org/type/video_encoder"]) == "-"


def test_the_device_service_is_the_xaddr_on_the_address_that_answered():
    xaddrs = ["http://10.0.0.5/onvif/device_service", "http://192.168.1.20:8080/onvif/device_service"]
    assert cli.device_service(xaddrs, "192.168.1.20") == "http://192.168.1.20:8080/onvif/device_service"
    assert cli.device_service(xaddrs, "192.168.1.99") == "http://10.0.0.5/onvif/device_service"  # none there: the first
    assert cli.device_service(["urn:not-a-url", "http://[::1"], "192.168.1.20") is None
    assert cli.onvif_address("http://192.168.1.20/onvif/device_service") == "192.168.1.20:80"
    assert cli.onvif_address("https://192.168.1.20/onvif/device_service") == "192.168.1.20:443"
    assert cli.onvif_address("http://192.168.1.20:8080/onvif/device_service") == "192.168.1.20:8080"


SITE = parse_gateway("gw1", {"domain": "cams.example.com", "acme_email": "ops@example.com", "cameras": [
    {"id": "door", "url": "rtsp://192.168.1.20:554/ch1"},
    {"id": "yard", "url": "rtsp://nvr.local/ch2", "sub_url": "rtsp://192.168.1.21/ch2-sub"},
    {"id": "gate", "url": "rtsp://nvr.local/ch3", "onvif": "192.168.1.22:8000"},
]})  # fmt: skip


@pytest.mark.parametrize("address, camera", [
    ("192.168.1.20", "door"), ("192.168.1.21", "yard"), ("192.168.1.22", "gate"), ("192.168.1.23", None)])  # fmt: skip
def test_a_device_is_in_the_site_when_a_cameras_url_sub_url_or_onvif_has_its_address(address, camera):
    assert cli.camera_at({address}, SITE.cameras) == camera


def test_a_skipped_device_is_named_with_where_it_answered_why_and_the_fix():
    note = cli.skipped_note({"address": "192.168.1.40", "local": "192.168.1.1", "reason": "not an ONVIF device: types wsdp:Device"})
    assert note == ("note: 192.168.1.40 (on 192.168.1.1) skipped: not an ONVIF device: types wsdp:Device; fix: if it is a camera,"
                    " turn ONVIF on in its settings; or add it by its RTSP URL with `camgate camera add`")  # fmt: skip
    assert "fix: none needed here" in cli.skipped_note({"address": "192.168.1.41", "reason": "malformed XML: x"})


# --- the command, with the gateway replaced ---------------------------------------------------------------


@pytest.fixture
def site_inventory(tmp_path):
    inventory = tmp_path / "site.py"
    inventory.write_text(
        "from camgate.inventory import gateway, camera\n"
        "gateways = [gateway('gw.example.com', domain='cams.example.com', acme_email='ops@example.com',\n"
        "    cameras=[camera('door', url='rtsp://192.168.1.20:554/ch1')])]\n"
    )
    return str(inventory)


def discover(monkeypatch, inventory: str, report: dict | Exception, *args: str, interfaces: list[str] | None = None):
    def fake(host, data, request):
        assert request["table"] == "camgate" and request["interfaces"] == interfaces
        if isinstance(report, Exception):
            raise report
        return report

    monkeypatch.setattr(cli, "run_discovery", fake)
    return CliRunner().invoke(main, ["camera", "discover", inventory, *args])


def device(address: str, endpoint: str) -> dict:
    return {"address": address, "local": "192.168.1.1", "endpoint": endpoint, "types": ["dn:NetworkVideoTransmitter"],
            "scopes": CAMERA_SCOPES.split(), "xaddrs": [f"http://{address}:8000/onvif/device_service"]}  # fmt: skip


def test_the_table_lists_each_device_by_address_whether_the_site_has_it_and_the_next_step(monkeypatch, site_inventory):
    report = {"interfaces": ["192.168.1.1"], "devices": [device("192.168.1.30", "urn:b"), device("192.168.1.20", "urn:a")],
              "skipped": [{"address": "192.168.1.40", "local": "192.168.1.1", "reason": "malformed XML: no element found"}],
              "notes": []}  # fmt: skip
    result = discover(monkeypatch, site_inventory, report)
    assert result.exit_code == 0, result.output
    lines = [line.split("  ") for line in result.output.splitlines()]
    header, door, new, note, read, add = ([cell.strip() for cell in line if cell.strip()] for line in lines)
    assert header == ["ADDRESS", "ANSWERED ON", "MAKER/MODEL", "DEVICE SERVICE", "IN SITE"]
    assert door == ["192.168.1.20", "192.168.1.1", "HIKVISION DS-2CD2143G2-I", "http://192.168.1.20:8000/onvif/device_service", "door"]
    assert new[-1] == "-"
    assert note[0].startswith("note: 192.168.1.40 (on 192.168.1.1) skipped: malformed XML: no element found")
    assert read == [f"next: camgate camera onvif {site_inventory} 192.168.1.30:8000 --username admin --password-prompt", "(reads it, changes nothing)"]
    assert add == [f"camgate camera add {site_inventory} ID --onvif 192.168.1.30:8000 --username admin --password-prompt", "(adds it to the site)"]


def test_json_output_has_each_device_with_what_the_table_shows(monkeypatch, site_inventory):
    report = {"interfaces": ["192.168.1.1"], "devices": [device("192.168.1.20", "urn:a")], "skipped": [], "notes": []}
    result = discover(monkeypatch, site_inventory, report, "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["gateway"] == "gw.example.com" and shown["skipped"] == []
    [door] = shown["devices"]
    assert (door["address"], door["endpoint"], door["in_site"], door["name"], door["hardware"], door["device_service"]) == (
        "192.168.1.20", "urn:a", "door", "HIKVISION DS-2CD2143G2-I", "DS-2CD2143G2-I", "http://192.168.1.20:8000/onvif/device_service")  # fmt: skip


def test_nothing_found_exits_0_with_the_likely_causes(monkeypatch, site_inventory):
    result = discover(monkeypatch, site_inventory, {"interfaces": ["192.168.1.1"], "devices": [], "skipped": [], "notes": []})
    assert result.exit_code == 0
    assert "No ONVIF device answered gw.example.com's probe (from 192.168.1.1)" in result.output
    assert "multicast does not cross routers" in result.output and "discovery is off" in result.output
    assert "UDP port 3702" in result.output and "next:" not in result.output


def test_an_unreachable_gateway_exits_4_with_the_reason(monkeypatch, site_inventory):
    result = discover(monkeypatch, site_inventory, remote.RemoteError("gw.example.com: cannot reach gw.example.com:22: timed out"))
    assert result.exit_code == 4 and "error: gw.example.com: cannot reach gw.example.com:22: timed out" in result.output


@pytest.mark.parametrize("args", [["--wait", "0"], ["--wait", "31"], ["--gateway", "other"]])
def test_bad_input_exits_2(monkeypatch, site_inventory, args):
    assert discover(monkeypatch, site_inventory, AssertionError("the gateway must not be asked"), *args).exit_code == 2


def test_the_help_has_an_example():
    result = CliRunner().invoke(main, ["camera", "discover", "--help"])
    assert result.exit_code == 0 and "Example:" in result.output and "camgate camera discover" in result.output


def test_from_limits_the_probe_to_the_given_gateway_addresses_and_refuses_anything_else(monkeypatch, site_inventory):
    report = {"interfaces": ["192.168.1.1"], "devices": [device("192.168.1.20", "urn:a")], "skipped": [], "notes": []}
    result = discover(monkeypatch, site_inventory, report, "--from", "192.168.1.1", interfaces=["192.168.1.1"])
    assert result.exit_code == 0, result.output
    bad = discover(monkeypatch, site_inventory, report, "--from", "eth1")
    assert bad.exit_code == 2 and "--from: 'eth1' is not an IPv4 address" in bad.output
