"""TLS: the client handshake every TLS-speaking prober uses, and the certificate
expiry metrics."""

from __future__ import annotations

import socket
import ssl
import threading

from ..metrics import gauge
from .core import ProbeContext, ProbeFailed

# the chain's expiry carries the name the rules and dashboards know
CHAIN_EXPIRY = gauge(
    "aftercare_tls_cert_expiry_timestamp_seconds",
    "Unix time (seconds) when the first certificate of the verified chain (leaf, "
    "intermediates and trust anchor) expires: from then on clients fail. Without "
    "verification (tls_verify: false) the leaf's expiry.",
)
LEAF_EXPIRY = gauge(
    "aftercare_tls_leaf_cert_expiry_timestamp_seconds",
    "Unix time (seconds) when the server's own (leaf) certificate expires.",
)

_contexts: dict[tuple, ssl.SSLContext] = {}
_contexts_lock = threading.Lock()


def client_context(verify: bool = True, ca_file: str | None = None) -> ssl.SSLContext:
    """One shared context per (verify, ca_file): loading trust stores is costly."""
    key = (verify, ca_file)
    with _contexts_lock:
        context = _contexts.get(key)
        if context is None:
            context = ssl.create_default_context(cafile=ca_file)
            if not verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            _contexts[key] = context
        return context


def handshake(
    sock: socket.socket,
    host: str,
    ctx: ProbeContext,
    verify: bool = True,
    ca_file: str | None = None,
) -> ssl.SSLSocket:
    """Wrap ``sock`` in TLS (SNI ``host``) within the deadline; on failure the socket is closed."""
    try:
        context = client_context(verify, ca_file)
    except (OSError, ssl.SSLError) as err:
        sock.close()
        raise ProbeFailed(
            "tls", f"cannot load the CA file: {getattr(err, 'strerror', None) or err}"
        ) from None
    try:
        sock.settimeout(ctx.remaining())
        return context.wrap_socket(sock, server_hostname=host)
    except ssl.SSLCertVerificationError as err:
        sock.close()
        raise ProbeFailed("tls", f"certificate not accepted: {err.verify_message}") from None
    except TimeoutError:
        sock.close()
        raise ProbeFailed("timeout", "no TLS handshake in time") from None
    except (ssl.SSLError, OSError) as err:
        sock.close()
        raise ProbeFailed(
            "tls", f"TLS handshake failed: {getattr(err, 'reason', None) or err}"
        ) from None


def _not_after(cert) -> float:
    return float(ssl.cert_time_to_seconds(cert.get_info()["notAfter"]))


def cert_expiries(tls: ssl.SSLSocket) -> tuple[float, float] | None:
    """(leaf notAfter, earliest notAfter of the verified chain) as Unix times."""
    sslobj = tls._sslobj  # type: ignore[attr-defined]  # 3.10-3.12 keep the chain accessors private
    chain = (
        (getattr(sslobj, "get_verified_chain", lambda: None)() or [])
        if tls.context.verify_mode != ssl.CERT_NONE
        else []
    )
    presented = getattr(sslobj, "get_unverified_chain", lambda: None)() or []
    leaf = chain[0] if chain else (presented[0] if presented else None)
    if leaf is None:
        return None
    leaf_expiry = _not_after(leaf)
    return leaf_expiry, min([_not_after(c) for c in chain] or [leaf_expiry])


def emit_expiry(tls: ssl.SSLSocket, ctx: ProbeContext) -> None:
    expiries = cert_expiries(tls)
    if expiries:
        ctx.emit(LEAF_EXPIRY, expiries[0])
        ctx.emit(CHAIN_EXPIRY, expiries[1])
