"""Performance: lock requests waiting right now."""

from __future__ import annotations

from ..metrics import gauge

RUNS = ("postgresql", "mysql")

LOCKS_WAITING = gauge(
    "aftercare_database_locks_waiting",
    "Lock requests currently waiting for another transaction to release a lock, a count "
    "(PostgreSQL: ungranted pg_locks; MySQL: InnoDB lock waits).",
)


def postgresql(cur, target, sink) -> None:
    cur.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
    sink.add(LOCKS_WAITING, cur.fetchone()[0])


def mysql(cur, target, sink) -> None:
    cur.execute("SELECT COUNT(*) FROM information_schema.INNODB_LOCK_WAITS")
    sink.add(LOCKS_WAITING, cur.fetchone()[0])
