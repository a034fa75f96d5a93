"""HTTP(S): one request (following redirects), its status, body and phase timings.

The phases are timed by hand over our own socket so that resolve, connect,
tls, processing (request sent -> response headers) and transfer (body) are
separate; over redirects each phase is summed, as blackbox_exporter does.
"""

from __future__ import annotations

import http.client
import ssl
import time
from urllib.parse import urljoin, urlsplit

from ..metrics import gauge
from .core import ProbeContext, ProbeFailed, connect, resolve
from .tls import emit_expiry, handshake

PHASES = ("resolve", "connect", "tls", "processing", "transfer")
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 10
BODY_LIMIT = 1024 * 1024  # bytes of body read (and matched) at most

STATUS_CODE = gauge(
    "aftercare_http_status_code", "HTTP status code of the last response (after redirects)."
)
REDIRECTS = gauge("aftercare_http_redirects", "Number of redirects followed.")
PHASE_SECONDS = gauge(
    "aftercare_http_phase_seconds",
    "Seconds spent per phase of the HTTP check, summed over redirects: resolve, "
    "connect, tls, processing (request sent to response headers), transfer (body).",
    "phase",
)
CONTENT_LENGTH_BYTES = gauge(
    "aftercare_http_content_length_bytes", "Bytes of response body read (at most 1 MiB)."
)


def probe_http(check, ctx: ProbeContext) -> None:
    timings = dict.fromkeys(PHASES, 0.0)
    url, method, redirects = check.url, check.method, 0
    try:
        while True:
            status, location, body = _exchange(url, method, check, ctx, timings)
            if not (check.follow_redirects and status in REDIRECT_STATUSES and location):
                break
            redirects += 1
            if redirects > MAX_REDIRECTS:
                raise ProbeFailed("status", f"more than {MAX_REDIRECTS} redirects")
            url = urljoin(url, location)
            if urlsplit(url).scheme not in ("http", "https"):
                raise ProbeFailed("status", "redirected to a non-HTTP URL")
            if status == 303 or (status in (301, 302) and method == "POST"):
                method = "GET"
    finally:
        for phase, seconds in timings.items():
            ctx.emit(PHASE_SECONDS, seconds, phase)
        ctx.emit(REDIRECTS, redirects)
    ctx.emit(STATUS_CODE, status)
    ctx.emit(CONTENT_LENGTH_BYTES, len(body))
    ok = status in check.expect_status if check.expect_status else 200 <= status < 300
    if not ok:
        raise ProbeFailed("status", f"status {status} not expected")
    if check.body_regex is not None and not check.body_regex.search(
        body.decode("utf-8", "replace")
    ):
        raise ProbeFailed("content", f"body did not match {check.body_regex.pattern!r}")


def _exchange(url: str, method: str, check, ctx: ProbeContext, timings: dict):
    """One request/response: (status, Location header, body)."""
    parts = urlsplit(url)
    https = parts.scheme == "https"
    host, port = parts.hostname, parts.port or (443 if https else 80)
    if not host:
        raise ProbeFailed("content", "the URL has no host")

    mark = time.monotonic()
    family, sockaddr = resolve(host, port, ctx)
    mark = _lap(timings, "resolve", mark)
    sock = connect(family, sockaddr, ctx)
    mark = _lap(timings, "connect", mark)
    tls = None
    if https:
        tls = sock = handshake(sock, host, ctx, check.tls_verify, check.ca_file)
        mark = _lap(timings, "tls", mark)
    conn = http.client.HTTPConnection(host, port)
    conn.sock = sock  # our socket: already connected (and TLS-wrapped)
    try:
        if tls is not None:
            emit_expiry(tls, ctx)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"User-Agent": "aftercare-exporter", "Connection": "close", **check.headers}
        if parts.port:
            headers.setdefault("Host", parts.netloc.rpartition("@")[2])
        sock.settimeout(ctx.remaining())
        conn.request(method, path, headers=headers)
        response = conn.getresponse()
        mark = _lap(timings, "processing", mark)
        sock.settimeout(ctx.remaining())
        body = response.read(BODY_LIMIT) if method != "HEAD" else b""
        _lap(timings, "transfer", mark)
        return response.status, response.getheader("Location"), body
    except TimeoutError:
        raise ProbeFailed("timeout", "no HTTP response in time") from None
    except http.client.HTTPException as err:
        raise ProbeFailed("content", f"not a valid HTTP response: {type(err).__name__}") from None
    except ssl.SSLError as err:
        raise ProbeFailed("tls", f"TLS error: {err.reason or err}") from None
    except OSError as err:
        raise ProbeFailed(
            "connect", f"connection lost: {getattr(err, 'strerror', None) or err}"
        ) from None
    finally:
        conn.close()


def _lap(timings: dict, phase: str, mark: float) -> float:
    now = time.monotonic()
    timings[phase] += now - mark
    return now
