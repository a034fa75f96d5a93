"""Redis: AUTH (when a password is configured) and PING, spoken in RESP over a socket."""

from __future__ import annotations

from .core import ProbeContext, ProbeFailed, open_tcp, recv_some, send_all, split_address
from .tls import handshake


def command(*parts: bytes) -> bytes:
    """One RESP request: an array of bulk strings."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


def read_line(sock, ctx: ProbeContext) -> bytes:
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = recv_some(sock, ctx, 512)
        if not chunk:
            raise ProbeFailed("content", "the server closed the connection")
        data += chunk
        if len(data) > 4096:
            raise ProbeFailed("content", "not a Redis reply")
    return data[:-2]


def probe_redis(link, ctx: ProbeContext) -> None:
    host, port = split_address(link.address)
    sock = open_tcp(host, port, ctx)
    if link.tls:
        sock = handshake(sock, host, ctx)
    try:
        if link.password:
            send_all(sock, command(b"AUTH", link.password.reveal().encode()), ctx)
            reply = read_line(sock, ctx)
            if reply != b"+OK":
                raise ProbeFailed(
                    "auth" if reply.startswith(b"-") else "content",
                    "AUTH refused" if reply.startswith(b"-") else "not a Redis reply",
                )
        send_all(sock, command(b"PING"), ctx)
        reply = read_line(sock, ctx)
        if reply.startswith((b"-NOAUTH", b"-WRONGPASS")):
            raise ProbeFailed("auth", "the server requires a password")
        if reply != b"+PONG":
            raise ProbeFailed("content", "PING was not answered with PONG")
    finally:
        sock.close()
