"""PostgreSQL: log in and run SELECT 1 (a fresh connection per check)."""
from __future__ import annotations

import math

from .core import ProbeContext, ProbeFailed


def probe_postgresql(link, ctx: ProbeContext) -> None:
    import psycopg2                 # imported on first use
    dsn = link.dsn
    if dsn.host.rstrip(".").lower().endswith(".invalid"):
        raise ProbeFailed("dns", f"{dsn.host} is under the reserved .invalid domain")
    ms = max(1, int(ctx.remaining() * 1000))
    kwargs = dict(dsn.params)
    kwargs.update(host=dsn.host, port=dsn.port or 5432, user=dsn.user or "postgres",
                  dbname=dsn.database or "postgres",
                  connect_timeout=max(2, math.ceil(ms / 1000)),  # libpq's minimum is 2 s
                  application_name="aftercare-exporter", options=f"-c statement_timeout={ms}",
                  tcp_user_timeout=ms)
    if link.password:
        kwargs["password"] = link.password.reveal()
    try:
        conn = psycopg2.connect(**kwargs)
    except psycopg2.Error as err:
        raise ProbeFailed(classify(err), _first_line(err))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            if cur.fetchone() != (1,):
                raise ProbeFailed("content", "SELECT 1 did not return 1")
    except psycopg2.Error as err:
        raise ProbeFailed(classify(err), _first_line(err))
    finally:
        conn.close()


def classify(err: Exception) -> str:
    text = str(err).lower()
    if "timeout expired" in text or "timed out" in text or "statement timeout" in text:
        return "timeout"
    if "could not translate host name" in text:
        return "dns"
    if any(k in text for k in ("authentication failed", "no pg_hba.conf entry", "password",
                                "does not exist", "permission denied")):
        return "auth"
    if "ssl" in text:
        return "tls"
    return "connect"


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
