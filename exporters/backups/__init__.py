"""Area 6, backups: made on time, automatically, of a plausible size, and readable.

A backup is either a set of files (``path``: a glob) or a pgBackRest stanza
(``pgbackrest``).  WAL archiving health comes from the database area's
pg_stat_archiver metrics; rules combine the two.
"""
from __future__ import annotations

from typing import Iterable

from ..config import Config
from ..metrics import gauge
from ..runtime import Area, Target
from .files import FileBackupTarget
from .fileset import LocationError
from .pgbackrest import PgBackRestTarget

METRICS = (
    gauge("aftercare_backup_last_success_timestamp_seconds",
          "Unix time of the newest complete backup at least min_size big (file mtime, or "
          "pgBackRest stop time of a backup without checksum errors)."),
    gauge("aftercare_backup_newest_timestamp_seconds",
          "Unix time of the newest complete backup, whatever its size."),
    gauge("aftercare_backup_size_bytes",
          "Size in bytes of the newest complete backup (pgBackRest: bytes it added to the repository)."),
    gauge("aftercare_backup_min_size_bytes",
          "The configured smallest plausible backup size in bytes (0: no minimum)."),
    gauge("aftercare_backup_kept",
          "Number of complete backups kept (files matching the path, or pgBackRest backup sets)."),
    gauge("aftercare_backup_in_progress_files",
          "Files matching the path that are still being written (.partial/.tmp name, or size or "
          "mtime changing between looks)."),
    gauge("aftercare_backup_size_change_ratio",
          "Size of the newest complete backup divided by the previous one's (pgBackRest: previous "
          "of the same type); well below 1 means the backup suddenly shrank."),
    gauge("aftercare_backup_deadline_timestamp_seconds",
          "Unix time by which the next backup is due: the next scheduled time after the last "
          "success (system time zone) plus grace. Overdue when time() is past it."),
    gauge("aftercare_backup_verified",
          "1 if the newest complete backup passed verification (pg_restore read-back, gzip -t or "
          "sha256 sidecar), 0 if it failed; absent while its verification is pending."),
    gauge("aftercare_backup_verify_pending",
          "1 while the newest complete backup's verification has not finished yet."),
    gauge("aftercare_backup_last_verify_timestamp_seconds",
          "Unix time the newest complete backup's verification finished."),
    gauge("aftercare_backup_verify_duration_seconds",
          "Seconds the newest complete backup's verification took."),
    gauge("aftercare_backup_running",
          "1 while pgBackRest holds the stanza's backup lock (a backup is running)."),
    gauge("aftercare_backup_pgbackrest_status_code",
          "pgBackRest stanza status code: 0 ok, 1 missing stanza path, 2 no valid backups, "
          "3 missing stanza data, 4 different across repos, 5 database mismatch, 99 other."),
    gauge("aftercare_backup_type_last_success_timestamp_seconds",
          "Unix time the newest pgBackRest backup of each type (full, diff, incr) stopped.", "type"),
)


class BackupsArea(Area):
    name = "backups"
    target_label = "backup"
    up_metric = "aftercare_backup_up"
    up_help = ("1 if the backup location could be read at this scrape (the directory of the path "
               "exists and is readable, or pgbackrest info answered with the stanza), else 0.")
    reasons = ("missing", "unreadable", "command", "invalid_output", "timeout", "error")
    metrics = METRICS

    def build_targets(self, config: Config) -> Iterable[Target]:
        for system in config.systems:
            for backup in system.backups:
                cls = PgBackRestTarget if backup.pgbackrest else FileBackupTarget
                yield cls(system, backup, config.defaults.state_dir, config.defaults.timeout)

    def classify(self, err: BaseException) -> str:
        return err.reason if isinstance(err, LocationError) else "error"
