"""Performance: committed and rolled-back transactions."""
from __future__ import annotations

from ..metrics import counter
from .mysql import global_status

METRICS = (
    counter("aftercare_database_commits_total",
            "Transactions committed, a count (PostgreSQL: per database, xact_commit; MySQL: "
            "server-wide Handler_commit with datname=\"\").", "datname"),
    counter("aftercare_database_rollbacks_total",
            "Transactions rolled back, a count (PostgreSQL: per database, xact_rollback; MySQL: "
            "server-wide Handler_rollback with datname=\"\").", "datname"),
)

_PG_TRANSACTIONS = """
SELECT datname, xact_commit, xact_rollback
FROM pg_stat_database
WHERE datname IS NOT NULL
"""


def postgresql(cur, target, sink) -> None:
    cur.execute(_PG_TRANSACTIONS)
    for datname, commits, rollbacks in cur.fetchall():
        sink.add("aftercare_database_commits_total", commits, datname)
        sink.add("aftercare_database_rollbacks_total", rollbacks, datname)


def mysql(cur, target, sink) -> None:
    status = global_status(cur, "Handler_commit", "Handler_rollback")
    sink.add("aftercare_database_commits_total", status["Handler_commit"], "")
    sink.add("aftercare_database_rollbacks_total", status["Handler_rollback"], "")
