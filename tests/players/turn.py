"""A minimal TURN client (RFC 8656 over UDP, long-term credentials) for proving what coturn allows:
an allocation without credentials, with wrong or expired ones, and permissions towards peers.

    with TurnClient("10.231.7.2", 3478) as turn:
        turn.allocate()                              # -> 401 (no credentials)
        turn.allocate("1796450000:alice", "base64")  # -> 200 with the manifest's credentials
        turn.create_permission("127.0.0.1")          # -> 403 (coturn refuses loopback peers)

Each call returns the STUN response's status: 200 for a success response, else its ERROR-CODE.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import struct

MAGIC = 0x2112A442
ALLOCATE, CREATE_PERMISSION = 0x0003, 0x0008
SUCCESS_CLASS, ERROR_CLASS = 0x0100, 0x0110
USERNAME, MESSAGE_INTEGRITY, ERROR_CODE, REALM, NONCE = 0x0006, 0x0008, 0x0009, 0x0014, 0x0015
XOR_PEER_ADDRESS, REQUESTED_TRANSPORT = 0x0012, 0x0019
UDP = 17


def attribute(kind: int, value: bytes) -> bytes:
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * (-len(value) % 4)


def xor_peer(address: str, port: int) -> bytes:
    packed = socket.inet_aton(address)
    xored = bytes(a ^ b for a, b in zip(packed, struct.pack("!I", MAGIC)))
    return struct.pack("!BBH", 0, 1, port ^ (MAGIC >> 16)) + xored


def parse(data: bytes) -> tuple[int, dict[int, bytes]]:
    kind, length = struct.unpack("!HH", data[:4])
    attributes: dict[int, bytes] = {}
    offset = 20
    while offset + 4 <= 20 + length:
        akind, alen = struct.unpack("!HH", data[offset:offset + 4])
        attributes.setdefault(akind, data[offset + 4:offset + 4 + alen])
        offset += 4 + alen + (-alen % 4)
    return kind, attributes


class TurnClient:
    def __init__(self, address: str, port: int = 3478, timeout: float = 3.0):
        self.server = (address, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(timeout)
        self.realm = self.nonce = None
        self.key: bytes | None = None
        self.username: str | None = None

    def __enter__(self) -> TurnClient:
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()

    def request(self, method: int, attributes: bytes) -> tuple[int, dict[int, bytes]]:
        """Send one request (signed once credentials are known); return (status, attributes)."""
        if self.key is not None:
            attributes += attribute(USERNAME, self.username.encode()) + attribute(REALM, self.realm) + attribute(NONCE, self.nonce)
        transaction = os.urandom(12)
        # MESSAGE-INTEGRITY covers the message with its length counting the 24 bytes it adds.
        with_mi = len(attributes) + (24 if self.key is not None else 0)
        message = struct.pack("!HHI", method, with_mi, MAGIC) + transaction + attributes
        if self.key is not None:
            message += attribute(MESSAGE_INTEGRITY, hmac.new(self.key, message, hashlib.sha1).digest())
        for _attempt in range(3):  # UDP: a lost datagram is retried
            self.sock.sendto(message, self.server)
            try:
                data, _ = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            if data[8:20] == transaction:
                kind, attrs = parse(data)
                if kind & 0x0110 == SUCCESS_CLASS:
                    return 200, attrs
                code = attrs.get(ERROR_CODE, b"\0\0\0\0")
                return code[2] * 100 + code[3], attrs
        raise TimeoutError(f"no TURN answer from {self.server[0]}:{self.server[1]}")

    def allocate(self, username: str | None = None, password: str | None = None) -> int:
        """An Allocate for a UDP relay; with credentials, the long-term mechanism (401, then signed)."""
        transport = attribute(REQUESTED_TRANSPORT, bytes([UDP, 0, 0, 0]))
        status, attrs = self.request(ALLOCATE, transport)
        if status != 401 or username is None:
            return status
        self.realm, self.nonce, self.username = attrs[REALM], attrs[NONCE], username
        self.key = hashlib.md5(f"{username}:{self.realm.decode()}:{password}".encode()).digest()
        return self.request(ALLOCATE, transport)[0]

    def create_permission(self, peer: str) -> int:
        """Ask the allocation to accept and relay traffic to `peer` (no packet is sent to it)."""
        return self.request(CREATE_PERMISSION, attribute(XOR_PEER_ADDRESS, xor_peer(peer, 9)))[0]
