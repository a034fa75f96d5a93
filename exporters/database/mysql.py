"""A MySQL/MariaDB target: one reused PyMySQL connection, read-only, with timeouts."""

from __future__ import annotations

import math
import re

from ..drivers import mysql as driver
from .target import DatabaseTarget


def global_status(cur, *names: str) -> dict[str, float]:
    """Named SHOW GLOBAL STATUS counters as numbers (absent ones omitted)."""
    cur.execute("SHOW GLOBAL STATUS")
    wanted = {n.lower(): n for n in names}
    return {
        wanted[k.lower()]: float(v)
        for k, v in cur.fetchall()
        if k.lower() in wanted and v not in (None, "")
    }


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
        if "/" not in name:  # system, undo and temporary tablespaces
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
        conn = driver.connect(
            self.db.dsn, self.db.password, max(1, math.ceil(timeout)), database=database
        )
        try:
            self.mariadb = driver.limit_session(conn, timeout)
        except Exception:
            conn.close()
            raise
        return conn

    def is_broken(self, conn) -> bool:
        return not conn.open

    def ping(self, cur) -> None:
        cur.execute("SELECT 1")
