"""When the next success is due: a cron schedule read in the system's time zone."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

from croniter import croniter


def next_fire(schedule: str, after: float, timezone: str) -> float:
    """The first time ``schedule`` fires strictly after the Unix time ``after``.

    The cron fields are wall-clock times of ``timezone`` (e.g. '0 2 * * *' in
    Asia/Shanghai is 18:00 UTC); croniter walks a zone-aware datetime, so
    daylight-saving changes move the UTC instant as cron itself would.
    """
    start = datetime.fromtimestamp(after, ZoneInfo(timezone))
    return croniter(schedule, start).get_next(datetime).timestamp()


def deadline(
    schedule: str,
    timezone: str,
    last_success: float | None,
    watch_start: float | None,
    allowance: float,
) -> float:
    """The time by which the next success is due.

    The first scheduled start after the last success (or, with no success
    ever seen, after monitoring began) plus ``allowance`` (the job's
    max_duration and grace).  Past it, the run that should have happened
    did not succeed.
    """
    since = last_success if last_success is not None else watch_start
    if since is None:  # not watched before: from now
        since = time.time()
    return next_fire(schedule, since, timezone) + allowance
