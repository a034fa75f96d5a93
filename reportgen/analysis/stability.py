"""Incidents from the ``ALERTS`` series: firing samples merged into incidents.

Samples of one alert (same labels) that are at most MERGE_TOLERANCE apart belong
to one incident, so a missed rule evaluation or a Prometheus restart does not
split it. ``ALERTS_FOR_STATE`` gives when the alert became active (pending).
"""

from __future__ import annotations

from collections import Counter

from ..prom import matrix
from .common import MERGE_TOLERANCE, Context

IGNORED_LABELS = {"__name__", "alertstate"}
SEVERITY_ORDER = ["critical", "warning", "info"]


def fetch(ctx: Context) -> dict:
    p = ctx.period
    firing = matrix(
        ctx.client, 'ALERTS{alertstate="firing",alertname!="Watchdog"}', p.start_ts, p.end_ts
    )
    active = matrix(ctx.client, 'ALERTS_FOR_STATE{alertname!="Watchdog"}', p.start_ts, p.end_ts)
    return {"firing": firing, "active": active}


def incidents(
    firing: dict, active: dict, period_end: float, tolerance: float = MERGE_TOLERANCE
) -> list[dict]:
    """Merge firing samples per alert into incidents (plain data in, plain data out)."""
    by_alert: dict[tuple, list[float]] = {}
    for key, points in firing.items():
        labels = tuple((k, v) for k, v in key if k not in IGNORED_LABELS)
        by_alert.setdefault(labels, []).extend(t for t, _ in points)
    since: dict[tuple, list] = {}
    for key, points in active.items():
        labels = tuple((k, v) for k, v in key if k not in IGNORED_LABELS)
        since.setdefault(labels, []).extend(points)
    out = []
    for labels, stamps in by_alert.items():
        stamps.sort()
        run_start = stamps[0]
        for i, ts in enumerate(stamps):
            last = i == len(stamps) - 1
            if last or stamps[i + 1] - ts > tolerance:
                info = dict(labels)
                actives = [v for t, v in since.get(labels, ()) if run_start - tolerance <= t <= ts]
                ongoing = last and period_end - ts <= tolerance
                out.append(
                    {
                        "alertname": info.get("alertname", ""),
                        "severity": info.get("severity", "none"),
                        "system": info.get("system"),
                        "labels": {
                            k: v
                            for k, v in info.items()
                            if k not in ("alertname", "severity", "system")
                        },
                        "started": run_start,
                        "ended": ts,
                        "ongoing": ongoing,
                        "active_since": min(actives) if actives else None,
                        "duration_seconds": ts - run_start,
                    }
                )
                if not last:
                    run_start = stamps[i + 1]
    out.sort(key=lambda a: (a["started"], a["alertname"]))
    return out


def summarise(alerts: list[dict]) -> dict:
    """Counts by severity, mean time to resolve, noisiest alerts."""
    resolved = [a["duration_seconds"] for a in alerts if not a["ongoing"]]
    counts = Counter(a["severity"] for a in alerts)
    noisy = Counter(a["alertname"] for a in alerts).most_common(5)
    return {
        "incidents": len(alerts),
        "by_severity": {s: counts.get(s, 0) for s in sorted(counts, key=_severity_rank)},
        "mean_time_to_resolve_seconds": (sum(resolved) / len(resolved)) if resolved else None,
        "noisiest": [{"alertname": n, "incidents": c} for n, c in noisy],
        "merge_tolerance_seconds": MERGE_TOLERANCE,
    }


def _severity_rank(severity: str) -> int:
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


def analyse(ctx: Context) -> tuple[dict[str, list], list]:
    """({system: [incident]}, [stack-wide incidents without a system label])."""
    data = fetch(ctx)
    all_alerts = incidents(data["firing"], data["active"], ctx.period.end_ts)
    names = set(ctx.names)
    per_system = {n: [a for a in all_alerts if a["system"] == n] for n in ctx.names}
    stack = [a for a in all_alerts if a["system"] is None or a["system"] not in names]
    stack = [a for a in stack if a["system"] is None]
    return per_system, stack
