"""What every area's analysis shares: the query context and small numeric helpers."""
from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

from ..period import Period
from ..prom import PromClient

BUCKET = 900.0        # seconds per bucket for sample counting (aligns with every real UTC offset)
STEP = 60.0           # resolution of episode detection (outages, slow periods, overdue jobs)
MERGE_TOLERANCE = 300.0  # alert samples further apart than this start a new incident


@dataclass
class Context:
    client: PromClient
    period: Period
    systems: list            # exporters.config.System objects
    progress: object = None
    notes: list = field(default_factory=list)

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


def by_labels(raw: dict, *names: str) -> dict[tuple, object]:
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
    """Group sorted timestamps into (first, last) runs whose neighbours are at most ``gap`` apart."""
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
