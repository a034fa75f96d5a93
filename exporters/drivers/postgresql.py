"""PostgreSQL through psycopg2: a read-only, autocommit connection bounded by timeouts."""

from __future__ import annotations

import math
import sys

APPLICATION_NAME = "aftercare-exporter"

_AUTH_TEXTS = (
    "authentication failed",
    "no pg_hba.conf entry",
    "password",
    "does not exist",
    "permission denied",
)
_DNS_TEXTS = ("could not translate host name", "name or service not known")
_TIMEOUT_TEXTS = ("timeout expired", "timed out", "statement timeout")


def connect(
    dsn, password, timeout: float, *, database: str | None = None, default_user: str | None = None
):
    """A connection to ``dsn`` (an exporters.config.Dsn) whose every wait, from the TCP
    handshake to a statement or a lock, ends within about ``timeout`` seconds."""
    import psycopg2  # imported on first use: a probe-only exporter stays small

    ms = max(100, int(timeout * 1000))
    kwargs = dict(dsn.params)
    kwargs.update(
        host=dsn.host,
        port=dsn.port or 5432,
        user=dsn.user or default_user,
        dbname=database or dsn.database or "postgres",
        # libpq's minimum is 2 s; the caller stops waiting at the timeout anyway
        connect_timeout=max(2, math.ceil(timeout)),
        application_name=APPLICATION_NAME,
        options=f"-c statement_timeout={ms} -c lock_timeout={ms} "
        f"-c idle_in_transaction_session_timeout={max(ms, 10000)} "
        "-c default_transaction_read_only=on",
        keepalives=1,
        keepalives_idle=max(1, int(timeout)),
        keepalives_interval=1,
        keepalives_count=3,
        tcp_user_timeout=ms,
    )
    if password:
        kwargs["password"] = password.reveal()
    conn = psycopg2.connect(**kwargs)
    conn.autocommit = True
    return conn


def classify(err: BaseException) -> str:
    """Map a connection or query failure to one of exporters.drivers.REASONS."""
    text = str(err).lower()
    if isinstance(err, TimeoutError) or any(k in text for k in _TIMEOUT_TEXTS):
        return "timeout"
    if any(k in text for k in _DNS_TEXTS):
        return "dns"
    if any(k in text for k in _AUTH_TEXTS):
        return "auth"
    if "ssl" in text:
        return "tls"
    if _is_operational(err) and ("connect" in text or "refused" in text or "server closed" in text):
        return "connect"
    return "error"


def _is_operational(err: BaseException) -> bool:
    psycopg2 = sys.modules.get("psycopg2")
    return psycopg2 is not None and isinstance(err, psycopg2.OperationalError)
