"""PostgreSQL statistics views read once per scrape and shared by the
collectors that need them (one round trip instead of one per collector)."""

from __future__ import annotations

_STAT_DATABASE = """
SELECT datname, xact_commit, xact_rollback, blks_hit, blks_read,
       deadlocks, conflicts, temp_files, temp_bytes
FROM pg_stat_database
WHERE datname IS NOT NULL
"""

_ACTIVITY = """
SELECT state, extract(epoch FROM now() - xact_start), extract(epoch FROM now() - query_start),
       pid = pg_backend_pid()
FROM pg_stat_activity
WHERE backend_type = 'client backend'
"""


def _once(cur, target, key: str, sql: str) -> list[tuple]:
    memo = target.memo
    if key not in memo:
        cur.execute(sql)
        memo[key] = cur.fetchall()
    return memo[key]


def stat_database(cur, target) -> list[tuple]:
    """(datname, commits, rollbacks, blks_hit, blks_read, deadlocks, conflicts, temp_files,
    temp_bytes)"""
    return _once(cur, target, "stat_database", _STAT_DATABASE)


def activity(cur, target) -> list[tuple]:
    """(state, transaction age s, query age s, is_own) for every client backend"""
    return _once(cur, target, "activity", _ACTIVITY)
