"""AMQP 0-9-1: open a connection (protocol header, login, tune, open the vhost), then close it."""

from __future__ import annotations

import logging

from .core import ProbeContext, ProbeFailed, refuse_reserved_name
from .tls import client_context

# pika logs every failed connection attempt with a stack of details; the
# probe's verdict (up, reason) is the record of that, so keep pika quiet.
logging.getLogger("pika").setLevel(logging.CRITICAL)


def probe_amqp(link, ctx: ProbeContext) -> None:
    import pika  # imported on first use: an exporter without AMQP links stays small
    import pika.exceptions

    auth_errors = (
        pika.exceptions.ProbableAuthenticationError,
        pika.exceptions.AuthenticationError,
        pika.exceptions.ProbableAccessDeniedError,
    )
    url = link.url
    refuse_reserved_name(url.host)
    tls = url.scheme == "amqps"
    user = url.user or "guest"
    password = link.password.reveal() if link.password else ("guest" if not url.user else "")
    left = ctx.remaining()
    params = pika.ConnectionParameters(
        host=url.host,
        port=url.port or (5671 if tls else 5672),
        virtual_host=url.database or "/",
        credentials=pika.PlainCredentials(user, password, erase_on_connect=True),
        connection_attempts=1,
        retry_delay=0,
        socket_timeout=left,
        stack_timeout=left,
        blocked_connection_timeout=left,
        heartbeat=0,
        ssl_options=pika.SSLOptions(client_context(), url.host) if tls else None,
        client_properties={"connection_name": "aftercare-exporter"},
    )
    try:
        connection = pika.BlockingConnection(params)
    except auth_errors as err:
        raise ProbeFailed("auth", f"login refused: {type(err).__name__}") from None
    except Exception as err:  # pika's connector errors are not all AMQPError subclasses
        raise ProbeFailed(
            classify(err), f"cannot open an AMQP connection: {type(err).__name__}"
        ) from None
    try:
        connection.close()
    except pika.exceptions.AMQPError:
        pass  # it was open: closing is courtesy, not the check


def classify(err: Exception) -> str:
    text = repr(err).lower()
    if "gaierror" in text or "name or service not known" in text:
        return "dns"
    if "timeout" in text or "timed out" in text:
        return "timeout"
    if "ssl" in text:
        return "tls"
    if "access_refused" in text or "authentication" in text:
        return "auth"
    if "refused" in text or "connecterror" in text or "reset" in text or "unreachable" in text:
        return "connect"
    return "content"
