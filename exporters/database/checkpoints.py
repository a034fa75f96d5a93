"""Performance: PostgreSQL checkpoints (pg_stat_bgwriter; pg_stat_checkpointer from 17)."""

from __future__ import annotations

from ..metrics import counter

RUNS = ("postgresql",)

CHECKPOINTS_TOTAL = counter(
    "aftercare_database_checkpoints_total",
    "Checkpoints performed, a count, by kind: timed (checkpoint_timeout) or requested "
    "(WAL volume, CHECKPOINT, shutdown).",
    "kind",
)
CHECKPOINT_WRITE_SECONDS_TOTAL = counter(
    "aftercare_database_checkpoint_write_seconds_total",
    "Time spent writing dirty buffers to disk during checkpoints, in seconds.",
)
CHECKPOINT_SYNC_SECONDS_TOTAL = counter(
    "aftercare_database_checkpoint_sync_seconds_total",
    "Time spent syncing checkpoint files to disk, in seconds.",
)
CHECKPOINT_BUFFERS_WRITTEN_TOTAL = counter(
    "aftercare_database_checkpoint_buffers_written_total",
    "Buffers (8 KiB pages) written by checkpoints, a count.",
)

_PG_HAS_CHECKPOINTER = "SELECT to_regclass('pg_catalog.pg_stat_checkpointer') IS NOT NULL"

_PG_BGWRITER = """
SELECT checkpoints_timed, checkpoints_req, checkpoint_write_time / 1000.0,
       checkpoint_sync_time / 1000.0, buffers_checkpoint
FROM pg_stat_bgwriter
"""

_PG_CHECKPOINTER = """
SELECT num_timed, num_requested, write_time / 1000.0, sync_time / 1000.0, buffers_written
FROM pg_stat_checkpointer
"""


def postgresql(cur, target, sink) -> None:
    memory = target.cache["checkpoints"]
    if "view" not in memory:  # the server's version does not change
        cur.execute(_PG_HAS_CHECKPOINTER)
        memory["view"] = _PG_CHECKPOINTER if cur.fetchone()[0] else _PG_BGWRITER
    cur.execute(memory["view"])
    timed, requested, write, sync, buffers = cur.fetchone()
    sink.add(CHECKPOINTS_TOTAL, timed, "timed")
    sink.add(CHECKPOINTS_TOTAL, requested, "requested")
    sink.add(CHECKPOINT_WRITE_SECONDS_TOTAL, write)
    sink.add(CHECKPOINT_SYNC_SECONDS_TOTAL, sync)
    sink.add(CHECKPOINT_BUFFERS_WRITTEN_TOTAL, buffers)
