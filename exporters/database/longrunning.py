"""Performance: the oldest open transaction and queries running too long."""
from __future__ import annotations

from ..metrics import gauge

METRICS = (
    gauge("aftercare_database_oldest_transaction_seconds",
          "Age of the oldest open transaction of another session, in seconds (0 when none)."),
    gauge("aftercare_database_slow_queries",
          "Queries running right now for longer than the configured slow_query threshold, "
          "a count."),
    gauge("aftercare_database_longest_query_seconds",
          "How long the longest query running right now has been running, in seconds "
          "(0 when none)."),
    gauge("aftercare_database_slow_query_threshold_seconds",
          "The configured slow_query threshold the slow query count is measured against, "
          "in seconds."),
)

_PG_LONG_RUNNING = """
SELECT
  coalesce(extract(epoch FROM max(now() - xact_start)), 0),
  count(*) FILTER (WHERE state = 'active' AND now() - query_start > make_interval(secs => %s)),
  coalesce(extract(epoch FROM max(now() - query_start) FILTER (WHERE state = 'active')), 0)
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
"""

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
    sink.add("aftercare_database_oldest_transaction_seconds", max(0.0, float(oldest)))
    sink.add("aftercare_database_slow_queries", slow)
    sink.add("aftercare_database_longest_query_seconds", max(0.0, float(longest)))
    sink.add("aftercare_database_slow_query_threshold_seconds", threshold)


def postgresql(cur, target, sink) -> None:
    threshold = float(target.db.slow_query)
    cur.execute(_PG_LONG_RUNNING, (threshold,))
    oldest, slow, longest = cur.fetchone()
    _emit(sink, oldest, slow, longest, threshold)


def mysql(cur, target, sink) -> None:
    threshold = float(target.db.slow_query)
    cur.execute(_MYSQL_OLDEST_TRX)
    oldest = cur.fetchone()[0]
    cur.execute(_MYSQL_QUERIES, (threshold,))
    slow, longest = cur.fetchone()
    _emit(sink, oldest, slow, longest, threshold)
