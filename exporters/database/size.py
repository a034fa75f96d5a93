"""Space: the size of every database on the server.

pg_database_size walks every file of every database: the most expensive
read of a scrape (some 40 ms for 20 databases of 200 tables), on the
customer's server, for a figure that moves slowly.  It is read at most every
``REFRESH_SECONDS`` and repeated in between, which is plenty for capacity
trends and days-until-full.
"""

from __future__ import annotations

import time

from ..metrics import gauge
from .mysql import table_sizes

RUNS = ("postgresql", "mysql")

SIZE_BYTES = gauge(
    "aftercare_database_size_bytes",
    "Disk space used by each database on the server, in bytes, read at most every minute "
    "(PostgreSQL: "
    "pg_database_size; MySQL: the sum of its tables' InnoDB files, or data and index length "
    "for other engines).",
    "datname",
)

_PG_SIZES = """
SELECT datname, pg_database_size(oid)
FROM pg_database
WHERE datallowconn
"""

REFRESH_SECONDS = 60.0


def _cached(target, read) -> list[tuple[str, float]]:
    memory = target.cache["database_size"]
    if time.monotonic() - memory.get("read_at", -1e18) >= REFRESH_SECONDS:
        memory["sizes"] = read()
        memory["read_at"] = time.monotonic()
    return memory["sizes"]


def _read_pg(cur) -> list[tuple[str, float]]:
    cur.execute(_PG_SIZES)
    return cur.fetchall()


def postgresql(cur, target, sink) -> None:
    for datname, size in _cached(target, lambda: _read_pg(cur)):
        sink.add(SIZE_BYTES, size, datname)


def mysql(cur, target, sink) -> None:
    sizes = _cached(
        target,
        lambda: [
            (datname, sum(tables.values()))
            for datname, tables in table_sizes(cur, target.mariadb).items()
        ],
    )
    for datname, size in sizes:
        sink.add(SIZE_BYTES, size, datname)
