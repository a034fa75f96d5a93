"""Health of the monitoring itself: Watchdog heartbeat, collector and Prometheus scrape success."""

from __future__ import annotations

import math

from ..prom import buckets
from .common import BUCKET, Context, by_labels_list


def analyse(ctx: Context) -> dict:
    p, client = ctx.period, ctx.client
    watchdog = buckets(
        client,
        'count(count_over_time(ALERTS{alertname="Watchdog",alertstate="firing"}[{w}]))',
        p.start_ts,
        p.end_ts,
        BUCKET,
    )
    seen = sum(1 for points in watchdog.values() for v in points.values() if v > 0)
    expected = math.ceil(p.seconds / BUCKET - 1e-9)  # a shorter last bucket counts too
    collectors = client.over_period(
        "sum by (system, collector) (sum_over_time(aftercare_scrape_collector_success"
        f"{{{ctx.sel()}}}[{{range}}])) / sum by (system, collector) (count_over_time("
        f"aftercare_scrape_collector_success{{{ctx.sel()}}}[{{range}}]))",
        p.start_ts,
        p.end_ts,
    )
    jobs = client.over_period(
        "sum by (job) (sum_over_time(up[{range}])) / sum by (job) (count_over_time(up[{range}]))",
        p.start_ts,
        p.end_ts,
    )
    per_system: dict = {n: [] for n in ctx.names}
    for (system, collector), values in by_labels_list(collectors, "system", "collector").items():
        if system in per_system:
            per_system[system].append({"name": collector, "success_ratio": min(values)})
    for rows in per_system.values():
        rows.sort(key=lambda r: (r["success_ratio"], r["name"]))
    return {
        "watchdog_coverage_ratio": seen / expected if expected else None,
        "collectors": per_system,
        "scrape_jobs": sorted(
            (
                {"name": job, "up_ratio": min(v)}
                for (job,), v in by_labels_list(jobs, "job").items()
            ),
            key=lambda r: r["name"],
        ),
    }
