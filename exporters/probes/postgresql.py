"""PostgreSQL: log in and run SELECT 1 (a fresh connection per check)."""

from __future__ import annotations

from ..drivers import postgresql as driver
from .core import ProbeContext, ProbeFailed, refuse_reserved_name


def probe_postgresql(link, ctx: ProbeContext) -> None:
    import psycopg2  # imported on first use

    refuse_reserved_name(link.dsn.host)
    try:
        conn = driver.connect(link.dsn, link.password, ctx.remaining(), default_user="postgres")
    except psycopg2.Error as err:
        raise ProbeFailed(classify(err), _first_line(err)) from None
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            if cur.fetchone() != (1,):
                raise ProbeFailed("content", "SELECT 1 did not return 1")
    except psycopg2.Error as err:
        raise ProbeFailed(classify(err), _first_line(err)) from None
    finally:
        conn.close()


def classify(err: Exception) -> str:
    """The driver's reason; a failure it cannot place is a failed connection here."""
    reason = driver.classify(err)
    return "connect" if reason == "error" else reason


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
