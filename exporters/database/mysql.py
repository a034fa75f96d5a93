"""A MySQL/MariaDB target: one reused PyMySQL connection, read-only, with timeouts.

PyMySQL (pure Python) rather than mysqlclient: it installs from a wheel with
no C compiler or libmysqlclient headers on the monitoring host, and it has
per-socket connect/read/write timeouts, which is what bounds a hung server.
"""
from __future__ import annotations

import math
import re

import pymysql

from .target import DatabaseTarget

_AUTH_CODES = {1044, 1045, 1049, 1698}        # access denied, unknown database
_CONNECT_CODES = {2002, 2003, 2006, 2013}     # cannot connect, gone away, lost


def classify_mysql_error(err: BaseException) -> str:
    """Map a connection failure to a bounded reason."""
    text = str(err).lower()
    code = err.args[0] if isinstance(err, pymysql.err.MySQLError) and err.args else None
    if isinstance(err, TimeoutError) or "timed out" in text:
        return "timeout"
    if "name or service not known" in text or "nodename nor servname" in text \
            or "temporary failure in name resolution" in text:
        return "dns"
    if code in _AUTH_CODES:
        return "auth"
    if code in _CONNECT_CODES or isinstance(err, ConnectionError):
        return "connect"
    return "error"


def global_status(cur, *names: str) -> dict[str, float]:
    """Named SHOW GLOBAL STATUS counters as numbers (absent ones omitted)."""
    cur.execute("SHOW GLOBAL STATUS")
    wanted = {n.lower(): n for n in names}
    return {wanted[k.lower()]: float(v) for k, v in cur.fetchall()
            if k.lower() in wanted and v not in (None, "")}


# InnoDB file-per-table tablespaces: readable with PROCESS alone, unlike
# information_schema.TABLES, which lists only tables the role has privileges on
_MARIADB_TABLESPACES = "SELECT NAME, FILE_SIZE FROM information_schema.INNODB_SYS_TABLESPACES"
_MYSQL_TABLESPACES = "SELECT NAME, FILE_SIZE FROM information_schema.INNODB_TABLESPACES"

# tables outside InnoDB's own files (MyISAM, Aria, the system tablespace), where visible
_OTHER_TABLES = """
SELECT TABLE_SCHEMA, TABLE_NAME, COALESCE(DATA_LENGTH, 0) + COALESCE(INDEX_LENGTH, 0)
FROM information_schema.TABLES
WHERE TABLE_TYPE = 'BASE TABLE' AND (ENGINE IS NULL OR ENGINE <> 'InnoDB')
  AND TABLE_SCHEMA NOT IN ('information_schema', 'performance_schema')
"""

_VISIBLE_SCHEMAS = """
SELECT SCHEMA_NAME FROM information_schema.SCHEMATA
WHERE SCHEMA_NAME NOT IN ('information_schema', 'performance_schema')
"""

_PARTITION = re.compile(r"#[Pp]#.*$")
_ENCODED = re.compile(r"@([0-9a-fA-F]{4})")


def _decode(name: str) -> str:
    """MySQL's on-disk name encoding (@0040 for '@', ...) back to the SQL name."""
    return _ENCODED.sub(lambda m: chr(int(m.group(1), 16)), name)


def table_sizes(cur, mariadb: bool) -> dict[str, dict[str, float]]:
    """schema -> table -> bytes on disk (InnoDB file size; data + index length otherwise)."""
    sizes: dict[str, dict[str, float]] = {}
    cur.execute(_VISIBLE_SCHEMAS)
    for (schema,) in cur.fetchall():
        sizes.setdefault(schema, {})
    cur.execute(_MARIADB_TABLESPACES if mariadb else _MYSQL_TABLESPACES)
    for name, size in cur.fetchall():
        if "/" not in name:                 # system, undo and temporary tablespaces
            continue
        schema, table = name.split("/", 1)
        schema, table = _decode(schema), _decode(_PARTITION.sub("", table))
        tables = sizes.setdefault(schema, {})
        tables[table] = tables.get(table, 0.0) + float(size or 0)
    cur.execute(_OTHER_TABLES)
    for schema, table, size in cur.fetchall():
        sizes.setdefault(schema, {}).setdefault(table, float(size))
    return sizes


class MysqlTarget(DatabaseTarget):
    engine = "mysql"
    mariadb = False

    def connect(self, timeout: float, database: str | None = None):
        dsn = self.db.dsn
        seconds = max(1, math.ceil(timeout))
        conn = pymysql.connect(
            host=dsn.host, port=dsn.port or 3306, user=dsn.user or "",
            password=self.db.password.reveal() if self.db.password else "",
            database=database or dsn.database, charset="utf8mb4", autocommit=True,
            connect_timeout=seconds, read_timeout=seconds, write_timeout=seconds,
            program_name="aftercare-exporter")
        try:
            self.mariadb = "mariadb" in conn.get_server_info().lower()
            with conn.cursor() as cur:
                if self.mariadb:
                    cur.execute("SET SESSION max_statement_time = %s", (float(timeout),))
                else:
                    cur.execute("SET SESSION max_execution_time = %s", (int(timeout * 1000),))
                cur.execute("SET SESSION lock_wait_timeout = %s", (seconds,))
                cur.execute("SET SESSION innodb_lock_wait_timeout = %s", (seconds,))
                cur.execute("SET SESSION TRANSACTION READ ONLY")
        except Exception:
            conn.close()
            raise
        return conn

    def is_broken(self, conn) -> bool:
        return not conn.open

    def ping(self, cur) -> None:
        cur.execute("SELECT 1")
