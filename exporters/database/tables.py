"""Space: the N largest tables of every database, plus the rest as one series.

Each database gets at most N ``table`` series (N = ``top_tables``, default
20) and one ``table="__other__"`` series holding the rest, so the sum over a
database's series is the total size of its tables.  The member set is sticky
(topn.py) and kept in the state directory, so label sets do not churn.

Table sizes change slowly and reading them is per database on PostgreSQL, so
each database is re-read at most every ``REFRESH_SECONDS``: the DSN's own
database on the open connection, another database by a short visit right
after the scrape (``target.defer``: the target's connection is closed first,
so never two are open), one visit per scrape.  Between refreshes the last
figures are repeated; ``..._tables_refresh_timestamp_seconds`` says how old.
"""

from __future__ import annotations

import logging
import time

import psycopg2

from ..metrics import LOG_NAME, gauge, safe_error
from . import topn
from .mysql import table_sizes

log = logging.getLogger(LOG_NAME)

REFRESH_SECONDS = 300.0
LOCK_TIMEOUT_MS = 200

RUNS = ("postgresql", "mysql")

TABLE_SIZE_BYTES = gauge(
    "aftercare_database_table_size_bytes",
    "Disk space used by a table with its indexes, in bytes (PostgreSQL: with TOAST; "
    "MySQL: its InnoDB file), for the top-N tables of each database; "
    'table="__other__" holds all its other tables.',
    "datname",
    "table",
)
TABLES = gauge("aftercare_database_tables", "User tables in the database, a count.", "datname")
TABLES_REFRESH_TIMESTAMP_SECONDS = gauge(
    "aftercare_database_tables_refresh_timestamp_seconds",
    "When the table sizes of the database were last read, in seconds since the Unix epoch.",
    "datname",
)

_PG_DATABASES = "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate"

_PG_TABLES = r"""
SELECT n.nspname || '.' || c.relname, coalesce(pg_total_relation_size(c.oid), 0)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
"""

_MYSQL_SYSTEM = {"mysql", "sys"}


class _Memory:
    """Per-target figures kept between scrapes."""

    def __init__(self, target):
        self.path = target.state_file("tables.json")
        self.members = topn.load(self.path)  # datname -> member tables
        self.sizes: dict[str, dict[str, float]] = {}  # datname -> table -> bytes
        self.read_at: dict[str, float] = {}  # datname -> monotonic time of last read
        self.read_wall: dict[str, float] = {}  # datname -> epoch of last read
        self.tried_at: dict[str, float] = {}  # datname -> monotonic time of last try

    def due(self, datname: str, now: float) -> bool:
        return now - self.tried_at.get(datname, -1e18) >= REFRESH_SECONDS

    def store(self, datname: str, sizes: dict[str, float], n: int) -> bool:
        """Keep fresh sizes; return True when the member set changed."""
        self.sizes[datname] = sizes
        self.read_at[datname] = self.tried_at[datname] = time.monotonic()
        self.read_wall[datname] = time.time()
        members = topn.choose(self.members.get(datname, []), sizes, n)
        changed = members != self.members.get(datname)
        self.members[datname] = members
        return changed

    def forget_all_but(self, datnames: set[str]) -> bool:
        gone = set(self.sizes) | set(self.members) | set(self.tried_at)
        gone -= datnames
        for datname in gone:
            for table in (self.sizes, self.members, self.read_at, self.read_wall, self.tried_at):
                table.pop(datname, None)
        return bool(gone)

    def emit(self, sink) -> None:
        for datname in sorted(self.sizes):
            sizes = self.sizes[datname]
            members = self.members.get(datname, [])
            for table in members:
                sink.add(TABLE_SIZE_BYTES, sizes[table], datname, table)
            rest = sum(sizes.values()) - sum(sizes[t] for t in members)
            sink.add(TABLE_SIZE_BYTES, rest, datname, topn.OTHER)
            sink.add(TABLES, len(sizes), datname)
            sink.add(TABLES_REFRESH_TIMESTAMP_SECONDS, self.read_wall[datname], datname)


def _memory(target) -> _Memory:
    cache = target.cache["tables"]
    if "memory" not in cache:
        cache["memory"] = _Memory(target)
    return cache["memory"]


def _read_pg(cur) -> dict[str, float]:
    """Sizes of the connected database's tables.  Reading a size takes a share
    lock on the table; a table locked exclusively (ALTER, VACUUM FULL) makes
    this fail fast, and the previous figures are kept."""
    cur.execute("SET lock_timeout = %s", (LOCK_TIMEOUT_MS,))
    try:
        cur.execute(_PG_TABLES)
        return {name: float(size) for name, size in cur.fetchall()}
    finally:
        cur.execute("RESET lock_timeout")


def _visit(target, memory: _Memory, datname: str, n: int) -> None:
    """Read another database's table sizes; runs after the scrape (target.defer)."""
    try:
        with target.visit(datname) as cur:
            changed = memory.store(datname, _read_pg(cur), n)
    except Exception as err:  # one unreadable database must not hide the others' tables
        log.warning(
            "cannot read table sizes",
            extra={"target": target.name, "datname": datname, "err": safe_error(err)},
        )
        return
    if changed:
        topn.save(memory.path, memory.members)


def postgresql(cur, target, sink) -> None:
    memory = _memory(target)
    n = target.db.top_tables
    cur.execute(_PG_DATABASES)
    datnames = {row[0] for row in cur.fetchall()}
    changed = memory.forget_all_but(datnames)
    now = time.monotonic()
    if target.home in datnames and memory.due(target.home, now):
        try:
            changed |= memory.store(target.home, _read_pg(cur), n)
        except psycopg2.errors.LockNotAvailable:
            memory.tried_at[target.home] = now
            log.warning(
                "table sizes kept: a table is locked",
                extra={"target": target.name, "datname": target.home},
            )
    due = sorted(
        (d for d in datnames - {target.home} if memory.due(d, now)),
        key=lambda d: (memory.tried_at.get(d, -1e18), d),
    )
    if due:
        memory.tried_at[due[0]] = now
        target.defer(lambda: _visit(target, memory, due[0], n))
    memory.emit(sink)
    if changed:
        topn.save(memory.path, memory.members)


def mysql(cur, target, sink) -> None:
    memory = _memory(target)
    now = time.monotonic()
    if not memory.tried_at or any(memory.due(d, now) for d in memory.tried_at):
        by_schema = {
            schema: tables
            for schema, tables in table_sizes(cur, target.mariadb).items()
            if schema not in _MYSQL_SYSTEM
        }
        changed = memory.forget_all_but(set(by_schema))
        for schema, sizes in by_schema.items():
            changed |= memory.store(schema, sizes, target.db.top_tables)
        if changed:
            topn.save(memory.path, memory.members)
    memory.emit(sink)
