"""Performance: committed and rolled-back transactions."""

from __future__ import annotations

from ..metrics import counter
from .mysql import global_status
from .pgviews import stat_database

RUNS = ("postgresql", "mysql")

COMMITS_TOTAL = counter(
    "aftercare_database_commits_total",
    "Transactions committed, a count (PostgreSQL: per database, xact_commit; MySQL: "
    'server-wide Handler_commit with datname="").',
    "datname",
)
ROLLBACKS_TOTAL = counter(
    "aftercare_database_rollbacks_total",
    "Transactions rolled back, a count (PostgreSQL: per database, xact_rollback; MySQL: "
    'server-wide Handler_rollback with datname="").',
    "datname",
)


def postgresql(cur, target, sink) -> None:
    for datname, commits, rollbacks, *_ in stat_database(cur, target):
        sink.add(COMMITS_TOTAL, commits, datname)
        sink.add(ROLLBACKS_TOTAL, rollbacks, datname)


def mysql(cur, target, sink) -> None:
    status = global_status(cur, "Handler_commit", "Handler_rollback")
    sink.add(COMMITS_TOTAL, status["Handler_commit"], "")
    sink.add(ROLLBACKS_TOTAL, status["Handler_rollback"], "")
