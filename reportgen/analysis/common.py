"""What every area's analysis shares: the query context and small numeric helpers."""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..period import Period
from ..prom import PromClient, buckets

BUCKET = 900.0  # seconds per bucket for sample counting (aligns with every real UTC offset)
STEP = 60.0  # resolution of episode detection (outages, slow periods, overdue jobs)
MERGE_TOLERANCE = 300.0  # alert samples further apart than this start a new incident
HOUR = 3600.0


@dataclass
class Context:
    client: PromClient
    period: Period
    systems: list  # exporters.config.System objects
    progress: Callable[[str], None] | None = None
    notes: list = field(default_factory=list)
    lean: bool = False  # previous period: only the figures the month-over-month comparison uses
    workers: int = 4  # areas analysed at once (queries in flight)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.systems]

    def sel(self, extra: str = "") -> str:
        """A label matcher body selecting this context's systems."""
        regex = "|".join(re.escape(n) for n in self.names)
        body = f'system=~"{regex}"'
        return body + (f",{extra}" if extra else "")

    def say(self, message: str) -> None:
        if self.progress:
            self.progress(message)


def by_labels(raw: dict, *names: str) -> dict[tuple, Any]:
    """Re-key a {labels tuple: value} answer by the given label values."""
    out = {}
    for key, value in raw.items():
        labels = dict(key)
        out[tuple(labels.get(n, "") for n in names)] = value
    return out


def by_labels_list(results: list, *names: str) -> dict[tuple, list]:
    """Re-key an over_period answer [(metric, values)] by label values."""
    return {tuple(metric.get(n, "") for n in names): values for metric, values in results}


def sample_interval(counts: list[float], width: float = BUCKET) -> float | None:
    """The typical spacing of samples from per-bucket sample counts (median of full buckets)."""
    nonzero = [c for c in counts if c > 0]
    if not nonzero:
        return None
    typical = statistics.median(nonzero)
    full = [c for c in nonzero if c >= typical * 0.75]
    return width * len(full) / sum(full)


def episodes(timestamps: list[float], gap: float) -> list[tuple[float, float]]:
    """Group sorted timestamps into (first, last) runs whose neighbours are at most ``gap``
    apart."""
    out: list[list[float]] = []
    for ts in sorted(timestamps):
        if out and ts - out[-1][1] <= gap + 1e-6:
            out[-1][1] = ts
        else:
            out.append([ts, ts])
    return [(a, b) for a, b in out]


def ratio(num: float | None, den: float | None) -> float | None:
    if num is None or not den:
        return None
    return num / den


def worst(grades: list[str]) -> str:
    """The worst grade; 'no_data' only when nothing has data."""
    order = ["critical", "attention", "healthy"]
    for grade in order:
        if grade in grades:
            return grade
    return "no_data"


def increments(lasts: dict[float, float]) -> dict[float, float]:
    """{bucket start: added in it} from {bucket start: last counter value}; a drop is a reset."""
    out, previous = {}, None
    for t, value in sorted(lasts.items()):
        if previous is not None:
            out[t] = value - previous if value >= previous else value
        previous = value
    return out


def counter_hours(ctx: Context, metric: str, by: str) -> dict[tuple, dict[float, float]]:
    """Increments of a counter per hour of the period, summed ``by`` the given labels.

    The counters' last value in each hour (and in the hour before the period) is
    differenced in Python: every increment between two samples is counted once, in
    the hour of the later sample, with no extrapolation.
    """
    p = ctx.period
    raw = buckets(
        ctx.client,
        f"sum by ({by}) (last_over_time({metric}{{{ctx.sel()}}}[{{w}}]))",
        p.start_ts - HOUR,
        p.end_ts,
        HOUR,
    )
    return {
        key: {t: v for t, v in increments(points).items() if p.start_ts <= t < p.end_ts}
        for key, points in raw.items()
    }


def per_day(period, hours: dict[float, float]) -> dict:
    """{local day: sum} of {bucket start: value}."""
    out: dict = {}
    for t, v in hours.items():
        day = period.local_day(t)
        out[day] = out.get(day, 0.0) + v
    return out
