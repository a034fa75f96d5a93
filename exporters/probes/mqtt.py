"""MQTT: a 3.1.1 CONNECT answered by CONNACK with return code 0, then DISCONNECT."""

from __future__ import annotations

import os
import struct

from .core import ProbeContext, ProbeFailed, open_tcp, recv_exactly, send_all, split_address
from .tls import handshake

CONNACK_REASONS = {1: "content", 2: "content", 3: "connect", 4: "auth", 5: "auth"}
CONNACK_TEXT = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}
DISCONNECT = b"\xe0\x00"


def _string(value: bytes) -> bytes:
    return struct.pack("!H", len(value)) + value


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def connect_packet(username: str | None, password: str | None, client_id: str) -> bytes:
    flags = 0x02  # clean session
    payload = _string(client_id.encode())
    if username is not None:
        flags |= 0x80
        payload += _string(username.encode())
        if password is not None:
            flags |= 0x40
            payload += _string(password.encode())
    body = _string(b"MQTT") + bytes([4, flags]) + struct.pack("!H", 30) + payload
    return b"\x10" + _remaining_length(len(body)) + body


def probe_mqtt(link, ctx: ProbeContext) -> None:
    host, port = split_address(link.address)
    sock = open_tcp(host, port, ctx)
    if link.tls:
        sock = handshake(sock, host, ctx)
    try:
        password = link.password.reveal() if link.password else None
        username = link.username if link.username is not None else ("" if password else None)
        send_all(
            sock,
            connect_packet(username, password, f"aftercare-{os.getpid()}-{os.urandom(4).hex()}"),
            ctx,
        )
        header = recv_exactly(sock, 4, ctx)
        if header[0] != 0x20 or header[1] != 2:
            raise ProbeFailed("content", "the answer to CONNECT was not a CONNACK")
        code = header[3]
        if code:
            raise ProbeFailed(
                CONNACK_REASONS.get(code, "content"),
                f"CONNACK refused: {CONNACK_TEXT.get(code, f'code {code}')}",
            )
        send_all(sock, DISCONNECT, ctx)
    finally:
        sock.close()
