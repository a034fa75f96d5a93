"""WAL archiving (PostgreSQL): archived and failed segments, and how recent.

The backups area reads these too: a backup set is only as good as its WAL.
"""

from __future__ import annotations

from ..metrics import counter, gauge

RUNS = ("postgresql",)

WAL_ARCHIVING_ENABLED = gauge(
    "aftercare_database_wal_archiving_enabled",
    "1 if archive_mode is on (or always), 0 if WAL archiving is off.",
)
WAL_ARCHIVED_TOTAL = counter(
    "aftercare_database_wal_archived_total",
    "WAL files archived successfully since the statistics were reset, a count.",
)
WAL_ARCHIVE_FAILURES_TOTAL = counter(
    "aftercare_database_wal_archive_failures_total",
    "Failed attempts to archive a WAL file since the statistics were reset, a count.",
)
WAL_LAST_ARCHIVED_TIMESTAMP_SECONDS = gauge(
    "aftercare_database_wal_last_archived_timestamp_seconds",
    "When the last WAL file was archived, in seconds since the Unix epoch (absent if never).",
)
WAL_LAST_ARCHIVED_AGE_SECONDS = gauge(
    "aftercare_database_wal_last_archived_age_seconds",
    "Seconds since the last WAL file was archived, by the server's clock (absent if never).",
)
WAL_LAST_ARCHIVE_FAILURE_TIMESTAMP_SECONDS = gauge(
    "aftercare_database_wal_last_archive_failure_timestamp_seconds",
    "When archiving a WAL file last failed, in seconds since the Unix epoch (absent if never).",
)

_PG_ARCHIVER = """
SELECT current_setting('archive_mode') <> 'off', archived_count, failed_count,
       extract(epoch FROM last_archived_time),
       extract(epoch FROM now() - last_archived_time),
       extract(epoch FROM last_failed_time)
FROM pg_stat_archiver
"""


def postgresql(cur, target, sink) -> None:
    cur.execute(_PG_ARCHIVER)
    enabled, archived, failed, last, age, last_failed = cur.fetchone()
    sink.add(WAL_ARCHIVING_ENABLED, 1 if enabled else 0)
    sink.add(WAL_ARCHIVED_TOTAL, archived)
    sink.add(WAL_ARCHIVE_FAILURES_TOTAL, failed)
    if last is not None:
        sink.add(WAL_LAST_ARCHIVED_TIMESTAMP_SECONDS, last)
        sink.add(WAL_LAST_ARCHIVED_AGE_SECONDS, max(0.0, float(age)))
    if last_failed is not None:
        sink.add(WAL_LAST_ARCHIVE_FAILURE_TIMESTAMP_SECONDS, last_failed)
