"""Performance: when the server started, and what it is."""

from __future__ import annotations

from ..metrics import gauge

RUNS = ("postgresql", "mysql")

START_TIMESTAMP_SECONDS = gauge(
    "aftercare_database_start_timestamp_seconds",
    "When the database server started, in seconds since the Unix epoch (server clock).",
)
VERSION_INFO = gauge(
    "aftercare_database_version_info",
    "Always 1; the labels say the server's engine (postgresql, mysql, mariadb) and version.",
    "engine",
    "version",
)

_PG_UPTIME = """
SELECT extract(epoch FROM pg_postmaster_start_time()), current_setting('server_version')
"""

_MYSQL_UPTIME = """
SELECT UNIX_TIMESTAMP() - VARIABLE_VALUE, VERSION()
FROM information_schema.GLOBAL_STATUS
WHERE VARIABLE_NAME = 'UPTIME'
"""


def postgresql(cur, target, sink) -> None:
    cur.execute(_PG_UPTIME)
    started, version = cur.fetchone()
    sink.add(START_TIMESTAMP_SECONDS, started)
    sink.add(VERSION_INFO, 1, "postgresql", version.split()[0])


def mysql(cur, target, sink) -> None:
    cur.execute(_MYSQL_UPTIME)
    started, version = cur.fetchone()
    engine = "mariadb" if "mariadb" in version.lower() else "mysql"
    sink.add(START_TIMESTAMP_SECONDS, started)
    sink.add(VERSION_INFO, 1, engine, version.split("-")[0])
