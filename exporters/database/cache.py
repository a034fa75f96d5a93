"""Performance: block reads served from the buffer cache versus from disk."""

from __future__ import annotations

from ..metrics import counter
from .mysql import global_status
from .pgviews import stat_database

RUNS = ("postgresql", "mysql")

BLOCKS_HIT_TOTAL = counter(
    "aftercare_database_blocks_hit_total",
    "Block reads served from the server's buffer cache, a count (PostgreSQL: blks_hit per "
    "database; MySQL: InnoDB buffer pool read requests not needing a disk read, "
    'server-wide with datname="").',
    "datname",
)
BLOCKS_READ_TOTAL = counter(
    "aftercare_database_blocks_read_total",
    "Block reads that had to go to disk (or the OS cache), a count (PostgreSQL: blks_read "
    'per database; MySQL: Innodb_buffer_pool_reads, server-wide with datname="").',
    "datname",
)


def postgresql(cur, target, sink) -> None:
    for datname, _, _, hit, read, *_ in stat_database(cur, target):
        sink.add(BLOCKS_HIT_TOTAL, hit, datname)
        sink.add(BLOCKS_READ_TOTAL, read, datname)


def mysql(cur, target, sink) -> None:
    status = global_status(cur, "Innodb_buffer_pool_read_requests", "Innodb_buffer_pool_reads")
    requests, reads = status["Innodb_buffer_pool_read_requests"], status["Innodb_buffer_pool_reads"]
    sink.add(BLOCKS_HIT_TOTAL, max(0.0, requests - reads), "")
    sink.add(BLOCKS_READ_TOTAL, reads, "")
