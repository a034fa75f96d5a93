"""Log lines by level per source and day.

Counts come from the counters' last value in each hour (and the hour before the
period), differenced in Python: every increment between two samples is counted
once, with no extrapolation; a drop (counter reset) counts the new value.
"""
from __future__ import annotations

from collections import defaultdict

from ..prom import buckets
from .common import Context

HOUR = 3600.0


def fetch(ctx: Context) -> dict:
    p = ctx.period
    return buckets(ctx.client, "sum by (system, source, level) "
                   f"(last_over_time(aftercare_log_lines_total{{{ctx.sel()}}}[{{w}}]))",
                   p.start_ts - HOUR, p.end_ts, HOUR)


def increments(lasts: dict[float, float]) -> dict[float, float]:
    """{bucket start: lines added in it} from {bucket start: last counter value}."""
    out, previous = {}, None
    for t, value in sorted(lasts.items()):
        if previous is not None:
            out[t] = value - previous if value >= previous else value
        previous = value
    return out


def compute(raw: dict, period, system: str, sources: list[str]) -> list[dict]:
    per: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(float)))
    for key, points in raw.items():
        labels = dict(key)
        if labels.get("system") != system:
            continue
        for t, v in increments(points).items():
            if period.start_ts <= t < period.end_ts:
                per[labels.get("source", "")][labels.get("level", "")][period.local_day(t)] += v
    out = []
    for source in sources:
        levels = per.get(source, {})
        totals = {level: round(sum(days.values())) for level, days in levels.items()}
        daily = [{"day": d.isoformat(), **{lvl: round(levels[lvl].get(d, 0.0)) for lvl in levels}}
                 for d in period.days()] if levels else []
        out.append({"name": source, "lines": totals if levels else None, "daily": daily})
    out.sort(key=lambda s: -((s["lines"] or {}).get("error", 0)))
    return out


def analyse(ctx: Context) -> dict[str, list[dict]]:
    raw = fetch(ctx)
    return {s.name: compute(raw, ctx.period, s.name, [src.source for src in s.logs])
            for s in ctx.systems}
