"""Space: the size of every database on the server."""
from __future__ import annotations

from ..metrics import gauge

METRICS = (
    gauge("aftercare_database_size_bytes",
          "Disk space used by each database on the server, in bytes (PostgreSQL: "
          "pg_database_size; MySQL: data and index length of the schema's tables).",
          "datname"),
)

_PG_SIZES = """
SELECT datname, pg_database_size(oid)
FROM pg_database
WHERE datallowconn
"""

_MYSQL_SIZES = """
SELECT s.SCHEMA_NAME, COALESCE(SUM(t.DATA_LENGTH + t.INDEX_LENGTH), 0)
FROM information_schema.SCHEMATA s
LEFT JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = s.SCHEMA_NAME
WHERE s.SCHEMA_NAME NOT IN ('information_schema', 'performance_schema')
GROUP BY s.SCHEMA_NAME
"""


def postgresql(cur, target, sink) -> None:
    cur.execute(_PG_SIZES)
    for datname, size in cur.fetchall():
        sink.add("aftercare_database_size_bytes", size, datname)


def mysql(cur, target, sink) -> None:
    cur.execute(_MYSQL_SIZES)
    for datname, size in cur.fetchall():
        sink.add("aftercare_database_size_bytes", size, datname)
