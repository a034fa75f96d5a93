"""The series both kinds of backup target emit: freshness, size, count, shrinkage, deadline."""

from __future__ import annotations

from ..metrics import gauge

LAST_SUCCESS_TIMESTAMP_SECONDS = gauge(
    "aftercare_backup_last_success_timestamp_seconds",
    "Unix time of the newest complete backup at least min_size big (file mtime, or "
    "pgBackRest stop time of a backup without checksum errors).",
)
NEWEST_TIMESTAMP_SECONDS = gauge(
    "aftercare_backup_newest_timestamp_seconds",
    "Unix time of the newest complete backup, whatever its size.",
)
SIZE_BYTES = gauge(
    "aftercare_backup_size_bytes",
    "Size in bytes of the newest complete backup (pgBackRest: bytes it added to the repository).",
)
MIN_SIZE_BYTES = gauge(
    "aftercare_backup_min_size_bytes",
    "The configured smallest plausible backup size in bytes (0: no minimum).",
)
KEPT = gauge(
    "aftercare_backup_kept",
    "Number of complete backups kept (files matching the path, or pgBackRest backup sets).",
)
SIZE_CHANGE_RATIO = gauge(
    "aftercare_backup_size_change_ratio",
    "Size of the newest complete backup divided by the previous one's (pgBackRest: previous "
    "of the same type); well below 1 means the backup suddenly shrank.",
)
DEADLINE_TIMESTAMP_SECONDS = gauge(
    "aftercare_backup_deadline_timestamp_seconds",
    "Unix time by which the next backup is due: the next scheduled time after the last "
    "success (system time zone) plus grace. Overdue when time() is past it.",
)
