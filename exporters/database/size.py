"""Space: the size of every database on the server."""
from __future__ import annotations

from ..metrics import gauge

METRICS = (
    gauge("aftercare_database_size_bytes",
          "Disk space used by each database on the server (pg_database_size), in bytes.",
          "datname"),
)

_PG_SIZES = """
SELECT datname, pg_database_size(oid)
FROM pg_database
WHERE datallowconn
"""


def postgresql(cur, db, sink) -> None:
    cur.execute(_PG_SIZES)
    for datname, size in cur.fetchall():
        sink.add("aftercare_database_size_bytes", size, datname)
