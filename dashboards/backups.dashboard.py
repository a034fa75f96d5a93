"""Backups: made on schedule, of a plausible size, and verified readable."""

from dashboards.helpers import (
    UP_MAPPINGS,
    YES_NO_MAPPINGS,
    Layout,
    area_dashboard,
    low_is_bad,
    selector,
    stat,
    steps,
    table,
    timeseries,
)


def backup(metric: str, **matchers: str) -> str:
    """The metric for the selected systems and backups."""
    return selector(metric, "backup", **matchers)


LEGEND = "{{system}} / {{backup}}"

layout = Layout()
layout.row("Done and on time")
layout.add(
    stat(
        "Backup readable",
        [(backup("aftercare_backup_up"), "{{backup}}")],
        mappings=UP_MAPPINGS,
        thresholds=steps("red", (1, "green")),
        text_mode="value_and_name",
        description="1 when Aftercare can read the backup set (files or pgBackRest info).",
    ),
    w=6,
    h=5,
)
layout.add(
    stat(
        "Deadline in",
        [(f"{backup('aftercare_backup_deadline_timestamp_seconds')} - time()", "{{backup}}")],
        unit="dtdurations",
        thresholds=low_is_bad("backup_deadline_left_seconds"),
        text_mode="value_and_name",
        description="Time left until the next backup is due by its schedule; amber once overdue.",
    ),
    w=6,
    h=5,
)
layout.add(
    stat(
        "Verified",
        [(backup("aftercare_backup_verified"), "{{backup}}")],
        mappings=YES_NO_MAPPINGS,
        thresholds=steps("red", (1, "green")),
        text_mode="value_and_name",
        description="1 when the newest backup passed its verification (pg_restore, gzip, sha256).",
    ),
    w=6,
    h=5,
)
layout.add(
    stat(
        "Backups kept",
        [(backup("aftercare_backup_kept"), "{{backup}}")],
        thresholds=steps("red", (1, "green")),
        text_mode="value_and_name",
    ),
    w=6,
    h=5,
)
layout.add(
    timeseries(
        "Age of the last good backup",
        [(f"time() - {backup('aftercare_backup_last_success_timestamp_seconds')}", LEGEND)],
        "s",
        description="Since the newest complete backup that met min_size.",
    ),
    w=12,
)
layout.add(
    table(
        "Last good backup",
        [(f"{backup('aftercare_backup_last_success_timestamp_seconds')} * 1000", "")],
        unit="dateTimeAsIso",
        rename={"Value": "finished"},
    ),
    w=12,
)

layout.row("Size and verification")
layout.add(
    timeseries(
        "Backup size",
        [
            (backup("aftercare_backup_size_bytes"), LEGEND),
            (backup("aftercare_backup_min_size_bytes"), "min_size {{backup}}"),
        ],
        "bytes",
    ),
    w=12,
)
layout.add(
    timeseries(
        "Size change from the previous backup",
        [(backup("aftercare_backup_size_change_ratio"), LEGEND)],
        "percentunit",
        thresholds=low_is_bad("backup_size_change_ratio"),
        description="Newest size / previous size: a sudden drop means something is missing.",
    ),
    w=12,
)
layout.add(
    timeseries(
        "Verification time", [(backup("aftercare_backup_verify_duration_seconds"), LEGEND)], "s"
    ),
    w=12,
)
layout.add(
    timeseries(
        "Being written or verified",
        [
            (backup("aftercare_backup_in_progress_files"), "files being written {{backup}}"),
            (backup("aftercare_backup_verify_pending"), "verification pending {{backup}}"),
        ],
        "short",
    ),
    w=12,
)

dashboard = area_dashboard(
    "backups",
    layout.panels,
    "aftercare_backup_up",
    "Backup",
    description="Area 6 of the support contract: backups made automatically, on "
    "schedule, and usable.",
)
