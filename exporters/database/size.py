"""Space: the size of every database on the server."""
from __future__ import annotations

from ..metrics import gauge
from .mysql import table_sizes

METRICS = (
    gauge("aftercare_database_size_bytes",
          "Disk space used by each database on the server, in bytes (PostgreSQL: "
          "pg_database_size; MySQL: the sum of its tables' InnoDB files, or data and index length "
          "for other engines).",
          "datname"),
)

_PG_SIZES = """
SELECT datname, pg_database_size(oid)
FROM pg_database
WHERE datallowconn
"""

def postgresql(cur, target, sink) -> None:
    cur.execute(_PG_SIZES)
    for datname, size in cur.fetchall():
        sink.add("aftercare_database_size_bytes", size, datname)


def mysql(cur, target, sink) -> None:
    for datname, tables in table_sizes(cur, target.mariadb).items():
        sink.add("aftercare_database_size_bytes", sum(tables.values()), datname)
