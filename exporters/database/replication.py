"""Performance: replication state and lag.

The lag of a PostgreSQL standby is 0 while it has replayed everything it
received, so it does not grow on an idle primary (postgres_exporter's
now() - pg_last_xact_replay_timestamp() does).  On a primary, each standby's
replay lag comes from pg_stat_replication, which PostgreSQL resets to NULL
(reported as 0) once the standby has caught up and no new WAL arrives.
"""

from __future__ import annotations

import pymysql

from ..metrics import gauge

RUNS = ("postgresql", "mysql")

REPLICA = gauge(
    "aftercare_database_replica",
    "1 if this server is a replica (PostgreSQL in recovery, MySQL with replication "
    "configured), 0 if it is a primary.",
)
REPLICATION_RUNNING = gauge(
    "aftercare_database_replication_running",
    "On a replica: 1 if it is receiving and applying changes from its primary, 0 if not.",
)
REPLICATION_LAG_SECONDS = gauge(
    "aftercare_database_replication_lag_seconds",
    "On a replica: how far applying changes lags behind the primary, in seconds; 0 when "
    "everything received has been applied.",
)
STANDBY_REPLAY_LAG_SECONDS = gauge(
    "aftercare_database_standby_replay_lag_seconds",
    "On a PostgreSQL primary: each connected standby's replay lag, in seconds (0 when caught up).",
    "standby",
)
STANDBY_REPLAY_LAG_BYTES = gauge(
    "aftercare_database_standby_replay_lag_bytes",
    "On a PostgreSQL primary: WAL the standby has not replayed yet, in bytes.",
    "standby",
)

_PG_REPLICA = (
    """
SELECT pg_is_in_recovery(),
       CASE WHEN NOT pg_is_in_recovery() THEN NULL
            WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE coalesce(greatest(0, extract(epoch FROM now() - """  # one SQL line, split
    """pg_last_xact_replay_timestamp())), 0)
       END,
       EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')
"""
)

_PG_STANDBYS = """
SELECT coalesce(nullif(application_name, ''), coalesce(host(client_addr), 'local')),
       coalesce(extract(epoch FROM replay_lag), 0),
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)
FROM pg_stat_replication
"""


def postgresql(cur, target, sink) -> None:
    cur.execute(_PG_REPLICA)
    replica, lag, streaming = cur.fetchone()
    sink.add(REPLICA, 1 if replica else 0)
    if replica:
        sink.add(REPLICATION_RUNNING, 1 if streaming else 0)
        sink.add(REPLICATION_LAG_SECONDS, lag)
        return
    cur.execute(_PG_STANDBYS)
    seen = set()
    for standby, lag_seconds, lag_bytes in cur.fetchall():
        if standby in seen:  # two standbys with one name: keep the first
            continue
        seen.add(standby)
        sink.add(STANDBY_REPLAY_LAG_SECONDS, lag_seconds, standby)
        if lag_bytes is not None:
            sink.add(STANDBY_REPLAY_LAG_BYTES, max(0, lag_bytes), standby)


def _replica_status(cur) -> list[dict]:
    """SHOW REPLICA STATUS (newer servers) or SHOW SLAVE STATUS, as dicts."""
    for statement in ("SHOW REPLICA STATUS", "SHOW SLAVE STATUS"):
        try:
            cur.execute(statement)
        except pymysql.err.ProgrammingError:  # syntax error: an older server
            continue
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    return []


def _yes(row: dict, *keys: str) -> bool:
    return any(str(row.get(k, "")).lower() == "yes" for k in keys)


def mysql(cur, target, sink) -> None:
    rows = _replica_status(cur)
    sink.add(REPLICA, 1 if rows else 0)
    if not rows:
        return
    running = all(
        _yes(row, "Slave_IO_Running", "Replica_IO_Running")
        and _yes(row, "Slave_SQL_Running", "Replica_SQL_Running")
        for row in rows
    )
    sink.add(REPLICATION_RUNNING, 1 if running else 0)
    lags = [row.get("Seconds_Behind_Master", row.get("Seconds_Behind_Source")) for row in rows]
    known = [float(lag) for lag in lags if lag is not None]
    if len(known) == len(lags):
        sink.add(REPLICATION_LAG_SECONDS, max(known))
