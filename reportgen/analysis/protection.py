"""Data protection: days with a verified successful backup, maximum backup age, size trend."""
from __future__ import annotations

from ..prom import buckets
from .common import BUCKET, Context, by_labels, by_labels_list

LAST = "aftercare_backup_last_success_timestamp_seconds"


def fetch(ctx: Context) -> dict:
    p, sel, client = ctx.period, ctx.sel(), ctx.client
    success = buckets(client, f"max by (system, backup) (max_over_time({LAST}{{{sel}}}[{{w}}]))",
                      p.start_ts, p.end_ts, BUCKET)
    verified = buckets(client, "max by (system, backup) "
                       f"(max_over_time(aftercare_backup_verified{{{sel}}}[{{w}}]))",
                       p.start_ts, p.end_ts, BUCKET)
    size = buckets(client, "max by (system, backup) "
                   f"(last_over_time(aftercare_backup_size_bytes{{{sel}}}[{{w}}]))",
                   p.start_ts, p.end_ts, 86400.0 if p.seconds % 86400 == 0 else BUCKET)
    age = client.over_period(
        f"max by (system, backup) (max_over_time((time() - {LAST}{{{sel}}})[{{range}}:60s]))", p.start_ts, p.end_ts)
    return {"success": by_labels(success, "system", "backup"),
            "verified": by_labels(verified, "system", "backup"),
            "size": by_labels(size, "system", "backup"),
            "age": {k: max(v) for k, v in by_labels_list(age, "system", "backup").items()}}


def compute_backup(success: dict, verified: dict, size: dict, max_age, period) -> dict:
    """Figures for one backup set from bucketed last-success times and verification."""
    days_in_period = len(period.days())
    if not success:
        return {"days_with_verified_success": None, "days_with_success": None,
                "days_in_period": days_in_period, "max_age_seconds": None, "successes": None,
                "size_bytes_end": None, "size_trend": []}
    times = sorted({v for v in success.values() if period.start_ts <= v < period.end_ts})
    ordered = sorted(verified.items())
    ok_days, verified_days = set(), set()
    for i, ts in enumerate(times):
        day = period.local_day(ts)
        ok_days.add(day)
        until = times[i + 1] if i + 1 < len(times) else period.end_ts
        if any(v >= 1 for t, v in ordered if ts - BUCKET < t < until):
            verified_days.add(day)
    sizes = sorted(size.items())
    return {
        "days_with_verified_success": len(verified_days),
        "days_with_success": len(ok_days),
        "days_in_period": days_in_period,
        "successes": len(times),
        "max_age_seconds": max_age,
        "size_bytes_end": sizes[-1][1] if sizes else None,
        "size_trend": sizes,
    }


def analyse(ctx: Context) -> dict[str, list[dict]]:
    data = fetch(ctx)
    out = {}
    for system in ctx.systems:
        out[system.name] = [
            {"name": b.name, **compute_backup(data["success"].get((system.name, b.name), {}),
                                              data["verified"].get((system.name, b.name), {}),
                                              data["size"].get((system.name, b.name), {}),
                                              data["age"].get((system.name, b.name)), ctx.period)}
            for b in system.backups]
    return out
