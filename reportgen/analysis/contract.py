"""Contract availability: fault time (down or, by default, slow) outside planned maintenance.

Time is judged minute by minute on the grid of the outage and slow-period queries (STEP):
a minute is a fault when the target was down in it, or when the service's probe response
time was above the system's ``sla.response_time`` and ``sla.slow_is_fault`` is true.
Minutes inside a maintenance window, and with ``sla.hours: business`` minutes outside the
system's business hours, count neither as fault nor as covered time.  Covered time comes
from the sample counts per bucket, spread evenly over the bucket's minutes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from .common import BUCKET, STEP


def maintenance_windows(system, start: float, end: float) -> list[dict]:
    """The system's maintenance windows that touch [start, end), clipped to it, in order."""
    out = []
    zone = ZoneInfo(system.timezone)
    for window in system.maintenance:
        if window.start is not None:
            spans = [(window.start.timestamp(), window.end.timestamp())]
        else:
            spans = _recurring(window.schedule, window.duration, zone, start, end)
        for a, b in spans:
            a, b = max(a, start), min(b, end)
            if a < b:
                out.append(
                    {
                        "from": a,
                        "to": b,
                        "reason": window.reason,
                        "recurring": window.schedule is not None,
                    }
                )
    out.sort(key=lambda w: w["from"])
    return out


def _recurring(schedule: str, duration: float, zone, start: float, end: float) -> list[tuple]:
    from croniter import croniter

    first = dt.datetime.fromtimestamp(start - duration, zone)
    spans: list[tuple] = []
    it = croniter(schedule, first)
    while True:
        t = it.get_next(dt.datetime).timestamp()
        if t >= end:
            return spans
        spans.append((t, t + duration))


def _business_minute(hours, zone) -> Callable:
    """A test of whether the minute starting at ``ts`` lies in the business hours."""
    days = {("mon", "tue", "wed", "thu", "fri", "sat", "sun").index(d) for d in hours.days}
    holidays = set(hours.holidays)
    lo = _clock_minutes(hours.start)
    hi = _clock_minutes(hours.end)

    def test(ts: float) -> bool:
        local = dt.datetime.fromtimestamp(ts, zone)
        if local.weekday() not in days or local.date() in holidays:
            return False
        return lo <= local.hour * 60 + local.minute < hi

    return test


def _clock_minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


class ContractClock:
    """Which minutes of the period a system's contract counts (not planned, within its hours)."""

    def __init__(self, system, period):
        self.sla = system.sla
        self.windows = maintenance_windows(system, period.start_ts, period.end_ts)
        business = (
            _business_minute(self.sla.business_hours, ZoneInfo(system.timezone))
            if self.sla.hours == "business"
            else None
        )
        self.in_hours = business or (lambda ts: True)
        self._counted: dict[float, bool] = {}

    def in_maintenance(self, ts: float) -> bool:
        return any(w["from"] <= ts < w["to"] for w in self.windows)

    def counted(self, ts: float) -> bool:
        """The minute starting at ``ts`` counts for the contract."""
        hit = self._counted.get(ts)
        if hit is None:
            hit = self._counted[ts] = self.in_hours(ts) and not self.in_maintenance(ts)
        return hit

    @property
    def maintenance_seconds(self) -> float:
        return sum(w["to"] - w["from"] for w in self.windows)

    def counted_share(self, bucket_start: float, width: float = BUCKET) -> float:
        minutes = max(1, int(round(width / STEP)))
        hits = sum(self.counted(bucket_start + i * STEP) for i in range(minutes))
        return hits / minutes


def contract_figures(
    counts: dict[float, float],
    interval: float | None,
    down: list[float],
    slow: list[float] | None,
    clock: ContractClock,
) -> dict:
    """fault, slow and maintenance seconds and the contract availability of one target."""
    slow_minutes = set(slow or ())
    fault = set(down) | (slow_minutes if clock.sla.slow_is_fault else set())
    figures = {
        "fault_seconds": len(fault) * STEP,
        "slow_seconds": len(slow_minutes) * STEP,
        "maintenance_seconds": clock.maintenance_seconds,
        "fault_seconds_in_maintenance": sum(STEP for t in fault if clock.in_maintenance(t)),
        "contract_fault_seconds": None,
        "contract_covered_seconds": None,
        "contract_availability_ratio": None,
    }
    if not interval or not counts:
        return figures
    covered = sum(n * interval * clock.counted_share(t) for t, n in counts.items())
    counted_fault = sum(STEP for t in fault if clock.counted(t))
    figures["contract_fault_seconds"] = counted_fault
    figures["contract_covered_seconds"] = covered
    if covered > 0:
        figures["contract_availability_ratio"] = max(0.0, 1.0 - counted_fault / covered)
    return figures
