"""What every prober shares: the failure type, the probe context, and the
mapping of low-level errors to the bounded failure reasons."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

# The bounded failure reasons, exposed as aftercare_<target>_failure{reason}.
REASONS = ("dns", "connect", "tls", "auth", "timeout", "status", "content", "process")

Emit = Callable[..., None]  # emit(METRIC, value, *extra_label_values), as sink.add


class ProbeFailed(Exception):
    """A probe's verdict: down, for one of REASONS; ``detail`` is safe to log."""

    def __init__(self, reason: str, detail: str = ""):
        assert reason in REASONS, reason
        super().__init__(detail or reason)
        self.reason = reason


@dataclass
class ProbeContext:
    """Handed to a prober: its deadline (time.monotonic()) and where detail samples go."""

    deadline: float
    emit: Emit

    def remaining(self) -> float:
        """Seconds left; a ProbeFailed('timeout') once none are."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ProbeFailed("timeout", "deadline reached")
        return left


def classify_error(err: BaseException) -> str:
    """Map an exception escaping a prober to one of REASONS."""
    if isinstance(err, ProbeFailed):
        return err.reason
    if isinstance(err, socket.gaierror):
        return "dns"
    if isinstance(err, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(err, ssl.SSLError):
        return "tls"
    if isinstance(err, OSError):
        return "connect"
    # the peer answered, but not in a way the protocol allows
    return "content"


def split_address(address: str) -> tuple[str, int]:
    """'host:port' or '[v6]:port' -> (host, port); the config has validated it."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def refuse_reserved_name(host: str) -> None:
    """A ProbeFailed('dns') for ``invalid`` and names under it, which never resolve
    (RFC 6761 §6.4): answered here without asking a name server."""
    name = host.rstrip(".").lower()
    if name == "invalid" or name.endswith(".invalid"):
        raise ProbeFailed("dns", f"{host} is under the reserved .invalid domain")


def resolve(host: str, port: int, ctx: ProbeContext) -> tuple:
    """The first address of ``host`` as (family, sockaddr)."""
    refuse_reserved_name(host)
    ctx.remaining()
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise ProbeFailed("dns", f"cannot resolve {host}: {err.strerror}") from None
    family, _, _, _, sockaddr = infos[0]
    return family, sockaddr


def connect(family: int, sockaddr: tuple, ctx: ProbeContext) -> socket.socket:
    """A TCP connection to ``sockaddr`` opened within the deadline."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(ctx.remaining())
        sock.connect(sockaddr)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except TimeoutError:
        sock.close()
        raise ProbeFailed(
            "timeout", f"no connection to {sockaddr[0]}:{sockaddr[1]} in time"
        ) from None
    except OSError as err:
        sock.close()
        raise ProbeFailed(
            "connect", f"cannot connect to {sockaddr[0]}:{sockaddr[1]}: {err.strerror or err}"
        ) from None
    return sock


def open_tcp(host: str, port: int, ctx: ProbeContext) -> socket.socket:
    family, sockaddr = resolve(host, port, ctx)
    return connect(family, sockaddr, ctx)


def recv_some(sock: socket.socket, ctx: ProbeContext, size: int = 65536) -> bytes:
    """One read within the deadline; b'' at end of stream."""
    sock.settimeout(ctx.remaining())
    try:
        return sock.recv(size)
    except TimeoutError:
        raise ProbeFailed("timeout", "no answer in time") from None
    except ssl.SSLError as err:
        raise ProbeFailed("tls", f"TLS error while reading: {err.reason or err}") from None
    except OSError as err:
        raise ProbeFailed(
            "connect", f"connection lost while reading: {err.strerror or err}"
        ) from None


def recv_exactly(sock: socket.socket, n: int, ctx: ProbeContext) -> bytes:
    data = b""
    while len(data) < n:
        chunk = recv_some(sock, ctx, n - len(data))
        if not chunk:
            raise ProbeFailed("content", "the peer closed the connection early")
        data += chunk
    return data


def send_all(sock: socket.socket, data: bytes, ctx: ProbeContext) -> None:
    sock.settimeout(ctx.remaining())
    try:
        sock.sendall(data)
    except TimeoutError:
        raise ProbeFailed("timeout", "could not send in time") from None
    except OSError as err:
        raise ProbeFailed(
            "connect", f"connection lost while sending: {err.strerror or err}"
        ) from None
