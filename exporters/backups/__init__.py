"""Area 6, backups: made on time, automatically, of a plausible size, and readable.

A backup is either a set of files (``path``: a glob) or a pgBackRest stanza
(``pgbackrest``).  WAL archiving health comes from the database area's
pg_stat_archiver metrics; rules combine the two.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..config import Config
from ..metrics import metrics_in
from ..runtime import Area, Target
from . import files, pgbackrest, series
from .files import FileBackupTarget
from .fileset import LocationError
from .pgbackrest import PgBackRestTarget


class BackupsArea(Area):
    name = "backups"
    target_label = "backup"
    up_metric = "aftercare_backup_up"
    up_help = (
        "1 if the backup location could be read at this scrape (the directory of the path "
        "exists and is readable, or pgbackrest info answered with the stanza), else 0."
    )
    reasons = ("missing", "unreadable", "command", "invalid_output", "timeout", "error")
    metrics = metrics_in(series, files, pgbackrest)

    def build_targets(self, config: Config) -> Iterable[Target]:
        for system in config.systems:
            for backup in system.backups:
                cls = PgBackRestTarget if backup.pgbackrest else FileBackupTarget
                yield cls(system, backup, config.defaults.state_dir, config.defaults.timeout)

    def classify(self, err: BaseException) -> str:
        return err.reason if isinstance(err, LocationError) else "error"
