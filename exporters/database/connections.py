"""Performance: client connections by state, and how many the server allows."""

from __future__ import annotations

from ..metrics import gauge
from .pgviews import activity

STATES = ("active", "idle", "idle_in_transaction", "idle_in_transaction_aborted", "other")

RUNS = ("postgresql", "mysql")

CONNECTIONS = gauge(
    "aftercare_database_connections",
    "Client connections to the server by state (active, idle, idle_in_transaction, "
    "idle_in_transaction_aborted, other), a count.",
    "state",
)
MAX_CONNECTIONS = gauge(
    "aftercare_database_max_connections",
    "Client connections the server accepts for ordinary roles (max_connections minus the "
    "slots reserved for superusers), a count.",
)

_PG_STATES = {
    "active": "active",
    "idle": "idle",
    "idle in transaction": "idle_in_transaction",
    "idle in transaction (aborted)": "idle_in_transaction_aborted",
}

_PG_MAX = """
SELECT current_setting('max_connections')::int
     - current_setting('superuser_reserved_connections')::int
     - coalesce(current_setting('reserved_connections', true)::int, 0)
"""

_MYSQL_CONNECTIONS = """
SELECT p.COMMAND, t.trx_id IS NOT NULL, COUNT(*)
FROM information_schema.PROCESSLIST p
LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID
GROUP BY 1, 2
"""


def _emit(sink, counts: dict[str, int], maximum) -> None:
    for state in STATES:
        sink.add(CONNECTIONS, counts.get(state, 0), state)
    sink.add(MAX_CONNECTIONS, maximum)


def postgresql(cur, target, sink) -> None:
    counts: dict[str, int] = {}
    for state, *_ in activity(cur, target):
        key = _PG_STATES.get(state, "other")
        counts[key] = counts.get(key, 0) + 1
    cur.execute(_PG_MAX)
    _emit(sink, counts, cur.fetchone()[0])


def _mysql_state(command: str, in_transaction: bool) -> str:
    if command == "Sleep":
        return "idle_in_transaction" if in_transaction else "idle"
    if command in ("Query", "Execute", "Fetch", "Prepare"):
        return "active"
    return "other"


def mysql(cur, target, sink) -> None:
    counts: dict[str, int] = {}
    cur.execute(_MYSQL_CONNECTIONS)
    for command, in_transaction, n in cur.fetchall():
        key = _mysql_state(command, bool(in_transaction))
        counts[key] = counts.get(key, 0) + n
    cur.execute("SELECT @@max_connections")
    _emit(sink, counts, cur.fetchone()[0])
