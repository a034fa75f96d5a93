"""Space: the size of every PostgreSQL tablespace."""
from __future__ import annotations

from ..metrics import gauge

METRICS = (
    gauge("aftercare_database_tablespace_size_bytes",
          "Disk space used by each PostgreSQL tablespace (pg_tablespace_size), in bytes.",
          "tablespace"),
)

_PG_TABLESPACES = "SELECT spcname, pg_tablespace_size(oid) FROM pg_tablespace"


def postgresql(cur, target, sink) -> None:
    cur.execute(_PG_TABLESPACES)
    for name, size in cur.fetchall():
        sink.add("aftercare_database_tablespace_size_bytes", size, name)
