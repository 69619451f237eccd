"""WS-Discovery of ONVIF devices from the gateway, for `camgate camera discover` (sent over SSH and
run by the gateway's python3 -c; standard library only, nothing installed). Reads a JSON request on
stdin:

    {"wait": 3.0,                 seconds to collect answers (bounded: 0 < wait <= 30)
     "to": null,                  null: the multicast group 239.255.255.250:3702; or "ADDRESS[:PORT]"
                                  for a directed probe to one device
     "interfaces": null,          null: every non-loopback IPv4 address of the gateway (`ip -j -4 addr`);
                                  or a list of the gateway's IPv4 addresses to send the probe from
     "table": "camgate",          the gateway's nftables table (inet), or null: no firewall rule
     "open_firewall": true}       false: leave the firewall alone (the tests' positive control)

and prints JSON:

    {"probe": "urn:uuid:...", "interfaces": ["10.0.0.1", ...],
     "devices": [{"address": sender IPv4, "local": the gateway's address it answered on,
                  "endpoint": EndpointReference address, "types": [...], "scopes": [...], "xaddrs": [...]}],
     "skipped": [{"address": ..., "local": ..., "reason": "not an ONVIF device: types ..." |
                  "not a ProbeMatches answering our probe: ..." | "malformed XML: ..."}],
     "notes": ["..."]}

The Probe (ONVIF Core §7.3, WS-Discovery 2005/04: SOAP 1.2 over UDP, WS-Addressing 2004/08) asks for
`dn:NetworkVideoTransmitter`; it is sent three times with the same MessageID (SOAP-over-UDP's
MULTICAST_UDP_REPEAT = 2 repeats, 50-250 ms apart and doubling), so the answers repeat too: devices
are kept once per EndpointReference address and skipped answers once per sender and reason.

The answers are unicast datagrams to the probing socket's port, replies to a *multicast* datagram:
conntrack does not see them as replies, and camgate's firewall (input policy drop, established
accepted) would drop them. While the table exists the script inserts a rule accepting UDP to its own
sockets' ports and deletes it, by handle, before it ends (also on SIGTERM and SIGHUP).
"""

from __future__ import annotations

import io
import json
import random
import re
import select
import signal
import socket
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET

GROUP, PORT = "239.255.255.250", 3702
DEFAULT_WAIT, MAX_WAIT = 3.0, 30.0
REPEATS, MIN_DELAY, MAX_DELAY, UPPER_DELAY = 2, 0.05, 0.25, 0.5  # SOAP-over-UDP, Appendix I (seconds)
RULE_COMMENT = "camgate discover (temporary)"
NS = {
    "env": "http://www.w3.org/2003/05/soap-envelope",
    "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "d": "http://schemas.xmlsoap.org/ws/2005/04/discovery",
    "dn": "http://www.onvif.org/ver10/network/wsdl",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
}
ONVIF_TYPES = {(NS["dn"], "NetworkVideoTransmitter"), (NS["tds"], "Device")}
ONVIF_SCOPE = "onvif://www.onvif.org/"
PROBE = """<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="{env}" xmlns:wsa="{wsa}" xmlns:d="{d}" xmlns:dn="{dn}">
<env:Header><wsa:MessageID>{{message_id}}</wsa:MessageID>
<wsa:To env:mustUnderstand="true">urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To>
<wsa:Action env:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</wsa:Action>
</env:Header><env:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></env:Body>
</env:Envelope>""".format(**NS)
NOT_OURS = "not a ProbeMatches answering our probe"
HANDLE = re.compile(r"# handle (\d+)")


class BadRequest(ValueError):
    """The request on stdin is not one this script can run."""


def probe_message(message_id: str) -> bytes:
    """The Probe datagram for ONVIF video transmitters, with this MessageID."""
    return PROBE.format(message_id=message_id).encode()


def read_request(text: str) -> dict:
    """The request with defaults filled in; BadRequest saying which field is wrong and how."""
    try:
        request = json.loads(text or "{}")
    except json.JSONDecodeError as exc:
        raise BadRequest(f"the request is not JSON: {exc}") from None
    if not isinstance(request, dict):
        raise BadRequest("the request must be a JSON object")
    wait = request.get("wait", DEFAULT_WAIT)
    if isinstance(wait, bool) or not isinstance(wait, (int, float)) or not 0 < wait <= MAX_WAIT:
        raise BadRequest(f"wait: {wait!r} must be a number of seconds, more than 0 and at most {MAX_WAIT:g}")
    interfaces = request.get("interfaces")
    if interfaces is not None and (not isinstance(interfaces, list) or not all(is_ipv4(a) for a in interfaces)):
        raise BadRequest(f"interfaces: {interfaces!r} must be a list of the gateway's IPv4 addresses")
    to = request.get("to")
    if to is not None and split_target(to) is None:
        raise BadRequest(f"to: {to!r} must be an IPv4 ADDRESS or ADDRESS:PORT")
    table = request.get("table")
    if table is not None and not (isinstance(table, str) and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", table)):
        raise BadRequest(f"table: {table!r} is not an nftables table name")
    return {"wait": float(wait), "to": to, "interfaces": interfaces, "table": table,
            "open_firewall": request.get("open_firewall", True) is not False}  # fmt: skip


def is_ipv4(value: object) -> bool:
    try:
        socket.inet_pton(socket.AF_INET, value)  # type: ignore[arg-type]
    except (OSError, TypeError):
        return False
    return True


def split_target(value: object) -> tuple[str, int] | None:
    """"ADDRESS" or "ADDRESS:PORT" -> (address, port), the port 3702 by default; None if neither."""
    if not isinstance(value, str):
        return None
    address, _, port = value.partition(":")
    if not is_ipv4(address) or (port and not (port.isdigit() and 0 < int(port) < 65536)):
        return None
    return address, int(port) if port else PORT


def local_addresses(ip_json: str) -> list[str]:
    """Every IPv4 address of `ip -j -4 addr` output but loopback's, in its order."""
    try:
        links = json.loads(ip_json)
    except json.JSONDecodeError:
        return []
    found = []
    for link in links if isinstance(links, list) else []:
        if not isinstance(link, dict) or "LOOPBACK" in link.get("flags", []):
            continue
        for info in link.get("addr_info", []):
            if isinstance(info, dict) and info.get("family") == "inet" and is_ipv4(info.get("local")):
                if not info["local"].startswith("127."):
                    found.append(info["local"])
    return found


def namespaces(data: bytes) -> dict[str, str]:
    """The prefixes the message declares (a QName in Types names its namespace by prefix)."""
    prefixes: dict[str, str] = {}
    for _event, (prefix, uri) in ET.iterparse(io.BytesIO(data), events=("start-ns",)):
        prefixes.setdefault(prefix, uri)
    return prefixes


def resolve_types(text: str, prefixes: dict[str, str]) -> set[tuple[str | None, str]]:
    """The QNames of a Types list as (namespace or None, local name)."""
    names = (name.rpartition(":") for name in text.split())
    return {(prefixes.get(prefix), local) for prefix, _, local in names}


def is_onvif(types: set[tuple[str | None, str]], scopes: list[str]) -> bool:
    """An ONVIF device says so in its Types (dn:NetworkVideoTransmitter or tds:Device) or, for the
    devices that spell the namespace wrong, in its onvif:// scopes."""
    return bool(types & ONVIF_TYPES) or any(scope.startswith(ONVIF_SCOPE) for scope in scopes)


def read_answer(data: bytes, message_id: str) -> tuple[list[dict], str | None]:
    """The matches of one datagram, each {"endpoint", "types", "scopes", "xaddrs"}, or why it is
    skipped: never raises, whatever the bytes."""
    try:
        envelope = ET.fromstring(data)
        prefixes = namespaces(data)
    except ET.ParseError as exc:
        return [], f"malformed XML: {exc}"
    except ValueError as exc:  # e.g. an encoding ElementTree cannot read
        return [], f"malformed XML: {exc}"
    matches = envelope.find("env:Body/d:ProbeMatches", NS)
    if matches is None:
        action = (envelope.findtext("env:Header/wsa:Action", "", NS) or "").strip()
        return [], f"{NOT_OURS}: no ProbeMatches in its body (action {action or 'none'})"
    relates_to = (envelope.findtext("env:Header/wsa:RelatesTo", "", NS) or "").strip()
    if relates_to != message_id:
        return [], f"{NOT_OURS}: RelatesTo is {relates_to or 'missing'}, our probe was {message_id}"
    found, problems = [], []
    for match in matches.findall("d:ProbeMatch", NS):
        endpoint = (match.findtext("wsa:EndpointReference/wsa:Address", "", NS) or "").strip()
        types_text = match.findtext("d:Types", "", NS) or ""
        scopes = (match.findtext("d:Scopes", "", NS) or "").split()
        if not endpoint:
            problems.append(f"{NOT_OURS}: a ProbeMatch without an EndpointReference address")
        elif not is_onvif(resolve_types(types_text, prefixes), scopes):
            problems.append(f"not an ONVIF device: types {' '.join(types_text.split()) or 'none'} ({endpoint})")
        else:
            found.append({"endpoint": endpoint, "types": types_text.split(), "scopes": scopes,
                          "xaddrs": (match.findtext("d:XAddrs", "", NS) or "").split()})  # fmt: skip
    if not found and not problems:
        problems.append(f"{NOT_OURS}: its ProbeMatches holds no ProbeMatch")
    return found, "; ".join(problems) or None


def nft(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["nft", *args], capture_output=True, text=True, timeout=10)


def open_firewall(table: str, ports: list[int], notes: list[str]) -> int | None:
    """Insert a rule accepting UDP to `ports` in the table's input chain; its handle, or None (no
    table, or no nft at all before the first deploy: nothing to open; or the rule could not be
    added: a note says so)."""
    try:
        if nft("list", "chain", "inet", table, "input").returncode != 0:
            return None
    except FileNotFoundError:
        return None
    try:
        ports_expr = str(ports[0]) if len(ports) == 1 else "{ " + ", ".join(map(str, ports)) + " }"
        result = nft("--echo", "--handle", "insert", "rule", "inet", table, "input",
                     "udp", "dport", ports_expr, "accept", "comment", f'"{RULE_COMMENT}"')  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        notes.append(f"could not open the firewall for the answers ({exc}); answers may be dropped")
        return None
    handle = HANDLE.search(result.stdout)
    if result.returncode != 0 or handle is None:
        notes.append(f"could not open the firewall for the answers ({(result.stderr or result.stdout).strip()[-200:]});"
                     " answers may be dropped")  # fmt: skip
        return None
    return int(handle.group(1))


def close_firewall(table: str, handle: int, notes: list[str]) -> None:
    try:
        result = nft("delete", "rule", "inet", table, "input", "handle", str(handle))
    except (OSError, subprocess.SubprocessError) as exc:
        notes.append(f"could not delete the temporary firewall rule (handle {handle}): {exc}")
        return
    if result.returncode != 0:
        notes.append(f"could not delete the temporary firewall rule (handle {handle}): {result.stderr.strip()[-200:]}")


def probe_sockets(interfaces: list[str], notes: list[str]) -> dict[socket.socket, str]:
    """One UDP socket per address to send from (IP_MULTICAST_IF), each on an ephemeral port of
    0.0.0.0; "" for the routing table's choice when no address is given."""
    sockets: dict[socket.socket, str] = {}
    for address in interfaces or [""]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind(("0.0.0.0", 0))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)  # cameras are on the local link
            if address:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(address))
        except OSError as exc:
            sock.close()
            notes.append(f"cannot probe from {address or 'the default route'}: {exc}")
            continue
        sockets[sock] = address
    return sockets


def send_times(now: float, rng: random.Random) -> list[float]:
    """When to send the probe: now, then MULTICAST_UDP_REPEAT times more, the delay first drawn in
    [MIN_DELAY, MAX_DELAY] and doubled each time, at most UPPER_DELAY."""
    times, delay = [now], rng.uniform(MIN_DELAY, MAX_DELAY)
    for _ in range(REPEATS):
        times.append(times[-1] + delay)
        delay = min(2 * delay, UPPER_DELAY)
    return times


def collect(sockets: dict[socket.socket, str], target: tuple[str, int], message_id: str, wait: float,
            notes: list[str]) -> tuple[list[dict], list[dict]]:
    """Send the probe from every socket on schedule and read answers until `wait` seconds passed."""
    probe = probe_message(message_id)
    start = time.monotonic()
    deadline, pending = start + wait, send_times(start, random.Random())
    devices: dict[str, dict] = {}
    skipped: dict[tuple[str, str], dict] = {}
    while (now := time.monotonic()) < deadline:
        while pending and pending[0] <= now:
            pending.pop(0)
            for sock, address in list(sockets.items()):
                try:
                    sock.sendto(probe, target)
                except OSError as exc:
                    notes.append(f"cannot send the probe from {address or 'the default route'}: {exc}")
                    del sockets[sock]
        if not sockets:
            break
        timeout = min(deadline, pending[0] if pending else deadline) - now
        readable, _, _ = select.select(list(sockets), [], [], max(timeout, 0))
        for sock in readable:
            try:
                data, sender = sock.recvfrom(65535)
            except OSError:
                continue
            local = sockets[sock] or None  # a directed probe: the routing table chose
            found, reason = read_answer(data, message_id)
            for match in found:
                devices.setdefault(match["endpoint"], {"address": sender[0], "local": local, **match})
            if reason:
                skipped.setdefault((sender[0], reason), {"address": sender[0], "local": local, "reason": reason})
    return list(devices.values()), list(skipped.values())


def discover(request: dict) -> dict:
    """Probe, collect and report (see the module's docstring); the firewall as it was afterwards."""
    notes: list[str] = []
    interfaces = request["interfaces"]
    if request["to"] is not None:
        interfaces = []  # a directed probe goes where the routing table says
    elif interfaces is None:
        interfaces = gateway_addresses(notes)
    sockets = probe_sockets(interfaces, notes)
    message_id = f"urn:uuid:{uuid.uuid4()}"
    handle = None
    try:
        if request["table"] and request["open_firewall"] and sockets:
            handle = open_firewall(request["table"], sorted(s.getsockname()[1] for s in sockets), notes)
        target = split_target(request["to"]) if request["to"] else (GROUP, PORT)
        devices, skipped = collect(sockets, target, message_id, request["wait"], notes)
    finally:
        if handle is not None:
            close_firewall(request["table"], handle, notes)
        for sock in sockets:
            sock.close()
    return {"probe": message_id, "interfaces": interfaces, "devices": devices, "skipped": skipped, "notes": notes}


def gateway_addresses(notes: list[str]) -> list[str]:
    """The gateway's non-loopback IPv4 addresses; [] (the default route) when `ip` cannot say."""
    try:
        result = subprocess.run(["ip", "-j", "-4", "addr"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        notes.append(f"cannot list the gateway's addresses ({exc}); probing through the default route only")
        return []
    addresses = local_addresses(result.stdout) if result.returncode == 0 else []
    if not addresses:
        notes.append("no IPv4 address found with `ip -j -4 addr`; probing through the default route only")
    return addresses


def stop_on_signal(signum, _frame) -> None:
    raise SystemExit(128 + signum)  # unwinds through discover()'s finally: the rule is deleted


def main() -> int:
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop_on_signal)
    try:
        request = read_request(sys.stdin.read())
    except BadRequest as exc:
        print(f"discovery: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(discover(request)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
