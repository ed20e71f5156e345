"""A one-question DNS client: does cluster DNS answer a Service's name with an address?"""
from __future__ import annotations

import secrets
import socket
import struct


def resolve(name: str, server: str, timeout: float = 2.0) -> list[str]:
    """The IPv4 addresses `server` answers for `name` (an A query over UDP); empty if none or no answer."""
    query_id = secrets.randbits(16)
    question = b"".join(bytes([len(label)]) + label.encode() for label in name.rstrip(".").split(".")) + b"\0"
    packet = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0) + question + struct.pack("!HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(packet, (server, 53))
            reply = sock.recv(4096)
        except OSError:
            return []
    answer_id, flags, _, answers, _, _ = struct.unpack("!HHHHHH", reply[:12])
    if answer_id != query_id or flags & 0x000F:  # someone else's reply, or an error code (NXDOMAIN, ...)
        return []
    offset = 12 + len(question) + 4
    addresses = []
    for _ in range(answers):
        offset = _skip_name(reply, offset)
        kind, _, _, length = struct.unpack("!HHIH", reply[offset:offset + 10])
        offset += 10
        if kind == 1 and length == 4:
            addresses.append(socket.inet_ntoa(reply[offset:offset + 4]))
        offset += length
    return addresses


def _skip_name(message: bytes, offset: int) -> int:
    while message[offset]:
        if message[offset] & 0xC0 == 0xC0:  # a compression pointer ends the name
            return offset + 2
        offset += message[offset] + 1
    return offset + 1
