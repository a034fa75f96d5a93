"""Log lines by level per source and day.

Counts come from the counters' last value in each hour (and the hour before the
period), differenced in Python: every increment between two samples is counted
once, with no extrapolation; a drop (counter reset) counts the new value.
"""

from __future__ import annotations

from collections import defaultdict

from .common import Context, counter_hours, increments  # noqa: F401 (increments: tests)


def fetch(ctx: Context) -> dict:
    return counter_hours(ctx, "aftercare_log_lines_total", "system, source, level")


def compute(raw: dict, period, system: str, sources: list[str]) -> list[dict]:
    per: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(float)))
    for key, points in raw.items():
        labels = dict(key)
        if labels.get("system") != system:
            continue
        for t, v in points.items():
            per[labels.get("source", "")][labels.get("level", "")][period.local_day(t)] += v
    out = []
    for source in sources:
        levels = per.get(source, {})
        totals = {level: round(sum(days.values())) for level, days in levels.items()}
        daily = (
            [
                {"day": d.isoformat(), **{lvl: round(levels[lvl].get(d, 0.0)) for lvl in levels}}
                for d in period.days()
            ]
            if levels
            else []
        )
        out.append({"name": source, "lines": totals if levels else None, "daily": daily})
    out.sort(key=lambda s: -(s["lines"] or {}).get("error", 0))  # type: ignore[union-attr]
    return out


def analyse(ctx: Context) -> dict[str, list[dict]]:
    raw = fetch(ctx)
    return {
        s.name: compute(
            raw, ctx.period, s.name, [src.source for src in s.logs if src.format != "combined"]
        )
        for s in ctx.systems
    }
