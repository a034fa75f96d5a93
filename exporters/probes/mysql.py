"""MySQL/MariaDB: log in and run SELECT 1 (a fresh connection per check)."""
from __future__ import annotations

from .core import ProbeContext, ProbeFailed

# MySQL client/server error codes
ACCESS_DENIED = {1044, 1045, 1049, 1698, 1251}      # bad login, unknown database, plugin refused
CANNOT_CONNECT = {2002, 2003, 2006, 2013}


def probe_mysql(link, ctx: ProbeContext) -> None:
    import pymysql                  # imported on first use: it pulls in cryptography (~18 MB)
    dsn = link.dsn
    if dsn.host.rstrip(".").lower().endswith(".invalid"):
        raise ProbeFailed("dns", f"{dsn.host} is under the reserved .invalid domain")
    left = ctx.remaining()
    try:
        conn = pymysql.connect(host=dsn.host, port=dsn.port or 3306, user=dsn.user or "root",
                               password=link.password.reveal() if link.password else "",
                               database=dsn.database, connect_timeout=left, read_timeout=left,
                               write_timeout=left, program_name="aftercare-exporter")
    except pymysql.Error as err:
        raise ProbeFailed(classify(err), _describe(err))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            if cur.fetchone() != (1,):
                raise ProbeFailed("content", "SELECT 1 did not return 1")
    except pymysql.Error as err:
        raise ProbeFailed(classify(err), _describe(err))
    finally:
        conn.close()


def classify(err: Exception) -> str:
    code = err.args[0] if err.args and isinstance(err.args[0], int) else None
    text = str(err).lower()
    if code in ACCESS_DENIED:
        return "auth"
    if "timed out" in text:
        return "timeout"
    if "name or service not known" in text or "nodename nor servname" in text \
            or "temporary failure in name resolution" in text:
        return "dns"
    if "ssl" in text:
        return "tls"
    if code in CANNOT_CONNECT or "can't connect" in text:
        return "connect"
    return "content"


def _describe(err: Exception) -> str:
    code = err.args[0] if err.args else "?"
    message = str(err.args[1]) if len(err.args) > 1 else type(err).__name__
    return f"MySQL error {code}: {message[:200]}"
