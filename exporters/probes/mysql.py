"""MySQL/MariaDB: log in and run SELECT 1 (a fresh connection per check)."""

from __future__ import annotations

from ..drivers import mysql as driver
from .core import ProbeContext, ProbeFailed, refuse_reserved_name


def probe_mysql(link, ctx: ProbeContext) -> None:
    import pymysql  # imported on first use: it pulls in cryptography (~18 MB)

    refuse_reserved_name(link.dsn.host)
    try:
        conn = driver.connect(link.dsn, link.password, ctx.remaining(), default_user="root")
    except pymysql.Error as err:
        raise ProbeFailed(classify(err), _describe(err)) from None
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            if cur.fetchone() != (1,):
                raise ProbeFailed("content", "SELECT 1 did not return 1")
    except pymysql.Error as err:
        raise ProbeFailed(classify(err), _describe(err)) from None
    finally:
        conn.close()


def classify(err: Exception) -> str:
    """The driver's reason; the server answering something unexpected is ``content`` here."""
    reason = driver.classify(err)
    return "content" if reason == "error" else reason


def _describe(err: Exception) -> str:
    code = err.args[0] if err.args else "?"
    message = str(err.args[1]) if len(err.args) > 1 else type(err).__name__
    return f"MySQL error {code}: {message[:200]}"
