"""DNS: resolve a name (record A by default), through a given server or the system's resolver.

Without a server, A and AAAA go through the system resolver (getaddrinfo:
/etc/hosts and nsswitch included), as the monitored application's would.
"""

from __future__ import annotations

import socket

from .core import ProbeContext, ProbeFailed, refuse_reserved_name, split_address

FAMILIES = {"A": socket.AF_INET, "AAAA": socket.AF_INET6}


def probe_dns(link, ctx: ProbeContext) -> None:
    name = link.name
    refuse_reserved_name(name)
    if link.server is None and link.record in FAMILIES:
        ctx.remaining()
        try:
            socket.getaddrinfo(name, None, family=FAMILIES[link.record], type=socket.SOCK_STREAM)
        except socket.gaierror as err:
            raise ProbeFailed("dns", f"cannot resolve {name}: {err.strerror}") from None
        return
    import dns.exception  # imported on first use
    import dns.resolver

    if link.server is None:
        resolver = dns.resolver.Resolver()
    else:
        host, port = split_address(link.server)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers, resolver.port = [host], port
    try:
        answer = resolver.resolve(name, link.record, lifetime=ctx.remaining(), search=False)
    except dns.resolver.LifetimeTimeout:
        raise ProbeFailed("timeout", "no DNS answer in time") from None
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer) as err:
        raise ProbeFailed("dns", f"{name} {link.record}: {type(err).__name__}") from None
    except dns.resolver.NoNameservers:
        raise ProbeFailed("dns", f"{name} {link.record}: every name server failed") from None
    except dns.exception.DNSException as err:
        raise ProbeFailed("dns", f"{name} {link.record}: {type(err).__name__}") from None
    if not answer.rrset:
        raise ProbeFailed("dns", f"{name} {link.record}: empty answer")
