"""MySQL/MariaDB through PyMySQL: a connection bounded by per-socket timeouts.

PyMySQL (pure Python) rather than mysqlclient: it installs from a wheel with
no C compiler or libmysqlclient headers on the monitoring host, and it has
per-socket connect/read/write timeouts, which is what bounds a hung server.
"""

from __future__ import annotations

import math
import sys

APPLICATION_NAME = "aftercare-exporter"

# MySQL client/server error codes
ACCESS_DENIED = {1044, 1045, 1049, 1251, 1698}  # bad login, unknown database, plugin refused
CANNOT_CONNECT = {2002, 2003, 2006, 2013}  # cannot connect, gone away, lost

_DNS_TEXTS = (
    "name or service not known",
    "nodename nor servname",
    "temporary failure in name resolution",
)


def connect(dsn, password, timeout: float, *, database: str | None = None, default_user: str = ""):
    """A connection to ``dsn`` (an exporters.config.Dsn), autocommit, each socket
    operation bounded by ``timeout`` seconds."""
    import pymysql  # imported on first use: it pulls in cryptography (~18 MB)

    return pymysql.connect(
        host=dsn.host,
        port=dsn.port or 3306,
        user=dsn.user or default_user,
        password=password.reveal() if password else "",
        database=database or dsn.database,
        charset="utf8mb4",
        autocommit=True,
        connect_timeout=timeout,
        read_timeout=timeout,
        write_timeout=timeout,
        program_name=APPLICATION_NAME,
    )


def limit_session(conn, timeout: float) -> bool:
    """Bound statements and lock waits by ``timeout`` and make the session read-only;
    True when the server is MariaDB."""
    seconds = max(1, math.ceil(timeout))
    mariadb = "mariadb" in conn.get_server_info().lower()
    with conn.cursor() as cur:
        if mariadb:
            cur.execute("SET SESSION max_statement_time = %s", (float(timeout),))
        else:
            cur.execute("SET SESSION max_execution_time = %s", (int(timeout * 1000),))
        cur.execute("SET SESSION lock_wait_timeout = %s", (seconds,))
        cur.execute("SET SESSION innodb_lock_wait_timeout = %s", (seconds,))
        cur.execute("SET SESSION TRANSACTION READ ONLY")
    return mariadb


def error_code(err: BaseException) -> int | None:
    """The MySQL error number of a PyMySQL error, None for anything else."""
    args = getattr(err, "args", ())
    if is_driver_error(err) and args and isinstance(args[0], int):
        return args[0]
    return None


def classify(err: BaseException) -> str:
    """Map a connection or query failure to one of exporters.drivers.REASONS."""
    code = error_code(err)
    text = str(err).lower()
    if code in ACCESS_DENIED:
        return "auth"
    if isinstance(err, TimeoutError) or "timed out" in text:
        return "timeout"
    if any(k in text for k in _DNS_TEXTS):
        return "dns"
    if "ssl" in text:
        return "tls"
    if code in CANNOT_CONNECT or isinstance(err, ConnectionError) or "can't connect" in text:
        return "connect"
    return "error"


def is_driver_error(err: BaseException) -> bool:
    """True for an error raised by PyMySQL (never imports it: if it is not loaded, no)."""
    pymysql = sys.modules.get("pymysql")
    return pymysql is not None and isinstance(err, pymysql.err.MySQLError)
