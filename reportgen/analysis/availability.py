"""Availability of services, integrations and database servers from their ``_up`` gauges.

Only time with data counts: the ratio is up samples / all samples, and the time
without samples is reported as coverage, never as up. Samples are summed per
target (system + name) before the ratio, so a target whose series changed labels
mid-month (series churn) is still one target.
"""

from __future__ import annotations

from collections import defaultdict

from ..prom import buckets
from .common import STEP, Context, by_labels, episodes, sample_interval

KINDS = {  # section key -> (up metric, target label, config attribute)
    "services": ("aftercare_service_up", "service", "services"),
    "integrations": ("aftercare_integration_up", "integration", "integrations"),
    "databases": ("aftercare_database_up", "database", "databases"),
}


def queries(ctx: Context, metric: str, label: str) -> dict[str, str]:
    sel = ctx.sel()
    return {
        "sum": f"sum by (system, {label}) (sum_over_time({metric}{{{sel}}}[{{w}}]))",
        "count": f"sum by (system, {label}) (count_over_time({metric}{{{sel}}}[{{w}}]))",
        "down": f"min by (system, {label}) ({metric}{{{sel}}}) == 0",
    }


def fetch(ctx: Context, kind: str) -> dict:
    metric, label, _ = KINDS[kind]
    q = queries(ctx, metric, label)
    p = ctx.period
    return {
        "sum": by_labels(buckets(ctx.client, q["sum"], p.start_ts, p.end_ts), "system", label),
        "count": by_labels(buckets(ctx.client, q["count"], p.start_ts, p.end_ts), "system", label),
        "down": None
        if ctx.lean
        else by_labels(
            ctx.client.subquery_points(q["down"], p.start_ts, p.end_ts, STEP), "system", label
        ),
    }


def compute_target(
    sums: dict[float, float],
    counts: dict[float, float],
    down_points: list | None,
    period,
    sla: float | None,
) -> dict:
    """Figures for one target from its bucketed samples and its down points (plain data).

    ``down_points`` None: outages were not looked for (the previous period's comparison)."""
    total = sum(counts.values())
    up = sum(sums.get(t, 0.0) for t in counts)
    interval = sample_interval(list(counts.values()))
    daily: dict = defaultdict(lambda: [0.0, 0.0])
    for t, n in counts.items():
        day = daily[period.local_day(t)]
        day[0] += sums.get(t, 0.0)
        day[1] += n
    days = [
        {
            "day": d.isoformat(),
            "availability_ratio": (daily[d][0] / daily[d][1]) if daily[d][1] else None,
        }
        for d in period.days()
    ]
    hourly = _hourly(sums, counts, period) if period.seconds < 2 * 86400 else None
    if not total:
        return {
            "availability_ratio": None,
            "downtime_seconds": None,
            "coverage_ratio": 0.0,
            "outages": None,
            "longest_outage_seconds": None,
            "sample_interval_seconds": None,
            "sla_target": sla,
            "sla_met": None,
            "daily": days,
            "hourly": hourly,
        }
    availability = up / total
    assert interval is not None  # samples were counted, so they have a spacing
    runs = episodes([t for t, _ in down_points or ()], STEP)
    lengths = [b - a + STEP for a, b in runs]
    return {
        "availability_ratio": availability,
        "downtime_seconds": (total - up) * interval,
        "coverage_ratio": min(1.0, total * interval / period.seconds),
        "outages": len(runs) if down_points is not None else None,
        "longest_outage_seconds": (max(lengths) if lengths else 0.0)
        if down_points is not None
        else None,
        "sample_interval_seconds": interval,
        "sla_target": sla,
        "sla_met": (availability >= sla) if sla is not None else None,
        "daily": days,
        "hourly": hourly,
    }


def _hourly(sums: dict, counts: dict, period) -> list[dict]:
    """Availability per hour of a period shorter than two days (its daily chart is one dot)."""
    out, start = [], period.start_ts
    while start < period.end_ts:
        n = sum(c for t, c in counts.items() if start <= t < start + 3600)
        up = sum(sums.get(t, 0.0) for t, c in counts.items() if start <= t < start + 3600)
        out.append({"from": start, "availability_ratio": (up / n) if n else None})
        start += 3600
    return out


def analyse(ctx: Context, kind: str) -> dict[str, list[dict]]:
    """{system name: [per-target figures, in config order]} for one kind of target."""
    _, _, attr = KINDS[kind]
    data = fetch(ctx, kind)
    out = {}
    for system in ctx.systems:
        rows = []
        for target in getattr(system, attr):
            key = (system.name, target.name)
            sla = system.sla.availability if kind != "databases" else None
            row = {
                "name": target.name,
                **compute_target(
                    data["sum"].get(key, {}),
                    data["count"].get(key, {}),
                    None if data["down"] is None else data["down"].get(key, []),
                    ctx.period,
                    sla,
                ),
            }
            if data["down"] is not None:  # the contract figures are made once slowness is known
                row["_raw"] = {
                    "counts": data["count"].get(key, {}),
                    "down": [t for t, _ in data["down"].get(key, [])],
                }
            rows.append(row)
        out[system.name] = rows
    return out
