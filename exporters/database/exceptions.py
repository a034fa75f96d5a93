"""Exception records: deadlocks, recovery conflicts, temporary files."""

from __future__ import annotations

from ..metrics import counter
from .mysql import global_status
from .pgviews import stat_database

RUNS = ("postgresql", "mysql")

DEADLOCKS_TOTAL = counter(
    "aftercare_database_deadlocks_total",
    "Deadlocks detected by the server (one transaction was aborted each time), a count "
    '(PostgreSQL: per database; MySQL: Innodb_deadlocks, server-wide with datname="").',
    "datname",
)
CONFLICTS_TOTAL = counter(
    "aftercare_database_conflicts_total",
    "Queries cancelled on a PostgreSQL standby because of conflicts with recovery, a "
    "count per database.",
    "datname",
)
TEMP_FILES_TOTAL = counter(
    "aftercare_database_temp_files_total",
    "Temporary files created by queries (sorts, hashes spilling to disk), a count "
    '(MySQL: Created_tmp_files, server-wide with datname="").',
    "datname",
)
TEMP_BYTES_TOTAL = counter(
    "aftercare_database_temp_bytes_total",
    "Data written to temporary files by queries, in bytes (PostgreSQL only).",
    "datname",
)


def postgresql(cur, target, sink) -> None:
    for datname, *_, deadlocks, conflicts, temp_files, temp_bytes in stat_database(cur, target):
        sink.add(DEADLOCKS_TOTAL, deadlocks, datname)
        sink.add(CONFLICTS_TOTAL, conflicts, datname)
        sink.add(TEMP_FILES_TOTAL, temp_files, datname)
        sink.add(TEMP_BYTES_TOTAL, temp_bytes, datname)


def mysql(cur, target, sink) -> None:
    status = global_status(cur, "Innodb_deadlocks", "Created_tmp_files")
    if "Innodb_deadlocks" in status:
        sink.add(DEADLOCKS_TOTAL, status["Innodb_deadlocks"], "")
    sink.add(TEMP_FILES_TOTAL, status["Created_tmp_files"], "")
