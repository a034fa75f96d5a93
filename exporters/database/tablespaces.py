"""Space: the size of every PostgreSQL tablespace.

pg_tablespace_size walks every file of the tablespace, as long as all the
pg_database_size calls together, for a figure that moves slowly: it is read
at most every ``REFRESH_SECONDS`` and repeated in between.
"""

from __future__ import annotations

import time

from ..metrics import gauge

REFRESH_SECONDS = 300.0

RUNS = ("postgresql",)

TABLESPACE_SIZE_BYTES = gauge(
    "aftercare_database_tablespace_size_bytes",
    "Disk space used by each PostgreSQL tablespace (pg_tablespace_size, read at most every "
    "5 minutes), in bytes.",
    "tablespace",
)

_PG_TABLESPACES = "SELECT spcname, pg_tablespace_size(oid) FROM pg_tablespace"


def postgresql(cur, target, sink) -> None:
    memory = target.cache["tablespaces"]
    if time.monotonic() - memory.get("read_at", -1e18) >= REFRESH_SECONDS:
        cur.execute(_PG_TABLESPACES)
        memory["sizes"] = cur.fetchall()
        memory["read_at"] = time.monotonic()
    for name, size in memory["sizes"]:
        sink.add(TABLESPACE_SIZE_BYTES, size, name)
