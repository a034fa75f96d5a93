"""``--web.listen-address`` read the way Go's ``net.Listen("tcp", ...)`` reads it.

* ``:9851`` (empty host) and ``[::]:9851``: every address, IPv4 and IPv6, on one
  dual-stack socket; IPv4 only when the machine has no IPv6.
* ``0.0.0.0:9851``: every IPv4 address.
* ``127.0.0.1:9851``, ``[::1]:9851``, ``[fe80::1%eth0]:9851``: that address only.
* ``host:9851``: the first address the name resolves to, IPv4 first.
"""

from __future__ import annotations

import dataclasses
import errno
import ipaddress
import socket

# errors meaning "this machine has no IPv6", after which the empty host falls back to IPv4
_NO_IPV6 = (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL, errno.EPROTONOSUPPORT)


@dataclasses.dataclass(frozen=True)
class ListenAddress:
    """One ``--web.listen-address`` value: ``host`` is '' for every address."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_listen_address(value: str) -> ListenAddress:
    """``host:port``, ``[v6]:port`` or ``:port``; ValueError saying what is expected."""
    expected = f"expected host:port like :9851, 127.0.0.1:9851 or [::1]:9851, got {value!r}"
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(expected)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(expected) from None
    elif ":" in host or "[" in host or "]" in host or any(c.isspace() for c in host):
        raise ValueError(expected)  # an IPv6 address needs brackets
    return ListenAddress(host, int(port))


def _socket(family: int, v6only: bool | None = None) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if v6only is not None:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if v6only else 0)
    except OSError:
        sock.close()
        raise
    return sock


def _bound(family: int, sockaddr: tuple, v6only: bool | None = None) -> socket.socket:
    sock = _socket(family, v6only)
    try:
        sock.bind(sockaddr)
    except OSError:
        sock.close()
        raise
    return sock


def _every_address(port: int) -> socket.socket:
    """A dual-stack socket on every address; IPv4 only when IPv6 is not available."""
    try:
        return _bound(socket.AF_INET6, ("::", port), v6only=False)
    except OSError as err:
        if err.errno not in _NO_IPV6:
            raise
    return _bound(socket.AF_INET, ("0.0.0.0", port))


def _resolve(host: str, port: int) -> tuple[int, tuple]:
    """(family, sockaddr) for a literal address or the first resolved one, IPv4 first."""
    try:
        found = socket.getaddrinfo(
            host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
        )
    except socket.gaierror as err:
        raise OSError(errno.EADDRNOTAVAIL, f"cannot resolve {host}: {err.strerror}") from None
    found.sort(key=lambda info: info[0] != socket.AF_INET)
    family, _, _, _, sockaddr = found[0]
    return family, sockaddr


def bind(address: ListenAddress) -> socket.socket:
    """A socket bound to ``address`` (not yet listening); OSError when it cannot be."""
    if address.host in ("", "::"):
        return _every_address(address.port)
    family, sockaddr = _resolve(address.host, address.port)
    return _bound(family, sockaddr, v6only=True if family == socket.AF_INET6 else None)
