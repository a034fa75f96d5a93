"""TCP: connect (optionally TLS), optionally send a string and expect an answer."""

from __future__ import annotations

from .core import ProbeContext, ProbeFailed, open_tcp, recv_some, send_all, split_address
from .tls import emit_expiry, handshake

EXPECT_LIMIT = 64 * 1024  # bytes read at most while waiting for ``expect``


def probe_tcp(check, ctx: ProbeContext) -> None:
    host, port = split_address(check.address)
    sock = open_tcp(host, port, ctx)
    if check.tls:
        tls = handshake(
            sock, host, ctx, getattr(check, "tls_verify", True), getattr(check, "ca_file", None)
        )
        sock = tls
    try:
        if check.tls:
            emit_expiry(tls, ctx)
        if check.send:
            send_all(sock, check.send.encode(), ctx)
        if check.expect is not None:
            _expect(sock, check.expect, ctx)
    finally:
        sock.close()


def _expect(sock, pattern, ctx: ProbeContext) -> None:
    data = b""
    while len(data) < EXPECT_LIMIT:
        try:
            chunk = recv_some(sock, ctx)
        except ProbeFailed as failed:
            if failed.reason == "timeout" and data:  # it answered, but never what was expected
                break
            raise
        if not chunk:
            break
        data += chunk
        if pattern.search(data.decode("utf-8", "replace")):
            return
    raise ProbeFailed("content", f"the answer did not match {pattern.pattern!r}")
