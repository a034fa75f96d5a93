"""Performance: the oldest open transaction and queries running too long."""

from __future__ import annotations

from ..metrics import gauge
from .pgviews import activity

RUNS = ("postgresql", "mysql")

OLDEST_TRANSACTION_SECONDS = gauge(
    "aftercare_database_oldest_transaction_seconds",
    "Age of the oldest open transaction of another session, in seconds (0 when none).",
)
SLOW_QUERIES = gauge(
    "aftercare_database_slow_queries",
    "Queries running right now for longer than the configured slow_query threshold, a count.",
)
LONGEST_QUERY_SECONDS = gauge(
    "aftercare_database_longest_query_seconds",
    "How long the longest query running right now has been running, in seconds (0 when none).",
)
SLOW_QUERY_THRESHOLD_SECONDS = gauge(
    "aftercare_database_slow_query_threshold_seconds",
    "The configured slow_query threshold the slow query count is measured against, in seconds.",
)

_MYSQL_OLDEST_TRX = """
SELECT COALESCE(MAX(TIMESTAMPDIFF(MICROSECOND, trx_started, NOW())), 0) / 1000000
FROM information_schema.INNODB_TRX
WHERE trx_mysql_thread_id <> CONNECTION_ID()
"""

# TIME is whole seconds; MySQL and MariaDB both have it
_MYSQL_QUERIES = """
SELECT COALESCE(SUM(TIME >= %s), 0), COALESCE(MAX(TIME), 0)
FROM information_schema.PROCESSLIST
WHERE COMMAND IN ('Query', 'Execute') AND ID <> CONNECTION_ID()
"""


def _emit(sink, oldest, slow, longest, threshold) -> None:
    sink.add(OLDEST_TRANSACTION_SECONDS, max(0.0, float(oldest)))
    sink.add(SLOW_QUERIES, slow)
    sink.add(LONGEST_QUERY_SECONDS, max(0.0, float(longest)))
    sink.add(SLOW_QUERY_THRESHOLD_SECONDS, threshold)


def postgresql(cur, target, sink) -> None:
    threshold = float(target.db.slow_query)
    others = [row for row in activity(cur, target) if not row[3]]
    oldest = max((float(xact) for _, xact, _, _ in others if xact is not None), default=0.0)
    running = [
        float(query) for state, _, query, _ in others if state == "active" and query is not None
    ]
    slow = sum(1 for age in running if age > threshold)
    _emit(sink, oldest, slow, max(running, default=0.0), threshold)


def mysql(cur, target, sink) -> None:
    threshold = float(target.db.slow_query)
    cur.execute(_MYSQL_OLDEST_TRX)
    oldest = cur.fetchone()[0]
    cur.execute(_MYSQL_QUERIES, (threshold,))
    slow, longest = cur.fetchone()
    _emit(sink, oldest, slow, longest, threshold)
