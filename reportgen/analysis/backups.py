"""The backups section: backups per day (made, verified, verification failed), maximum age,
size trend, and the database area's WAL archiving (segments archived, failures per day) per
database server.  Its grade keeps the report key ``protection`` (exporters/areas.py)."""

from __future__ import annotations

from ..prom import buckets
from .common import BUCKET, Context, by_labels, by_labels_list, counter_hours, per_day

LAST = "aftercare_backup_last_success_timestamp_seconds"
DAY = 86400.0


def fetch(ctx: Context) -> dict:
    p, sel, client = ctx.period, ctx.sel(), ctx.client
    success = buckets(
        client,
        f"max by (system, backup) (max_over_time({LAST}{{{sel}}}[{{w}}]))",
        p.start_ts,
        p.end_ts,
        BUCKET,
    )
    verified = buckets(
        client,
        f"max by (system, backup) (max_over_time(aftercare_backup_verified{{{sel}}}[{{w}}]))",
        p.start_ts,
        p.end_ts,
        BUCKET,
    )
    unverified = buckets(
        client,
        f"min by (system, backup) (min_over_time(aftercare_backup_verified{{{sel}}}[{{w}}]))",
        p.start_ts,
        p.end_ts,
        BUCKET,
    )
    size = buckets(
        client,
        f"max by (system, backup) (last_over_time(aftercare_backup_size_bytes{{{sel}}}[{{w}}]))",
        p.start_ts,
        p.end_ts,
        DAY,
    )
    age = client.over_period(
        f"max by (system, backup) (max_over_time((time() - {LAST}{{{sel}}})[{{range}}:60s]))",
        p.start_ts,
        p.end_ts,
    )
    wal_failed = counter_hours(
        ctx, "aftercare_database_wal_archive_failures_total", "system, database"
    )
    wal_archived = counter_hours(ctx, "aftercare_database_wal_archived_total", "system, database")
    return {
        "success": by_labels(success, "system", "backup"),
        "verified": by_labels(verified, "system", "backup"),
        "unverified": by_labels(unverified, "system", "backup"),
        "size": by_labels(size, "system", "backup"),
        "age": {k: max(v) for k, v in by_labels_list(age, "system", "backup").items()},
        "wal_failed": by_labels(wal_failed, "system", "database"),
        "wal_archived": by_labels(wal_archived, "system", "database"),
    }


def compute_backup(
    success: dict, verified: dict, size: dict, max_age, period, unverified: dict | None = None
) -> dict:
    """Figures for one backup set from bucketed last-success times and verification."""
    days = period.days()
    if not success:
        return {
            "days_with_verified_success": None,
            "days_with_success": None,
            "days_in_period": len(days),
            "max_age_seconds": None,
            "successes": None,
            "days_verification_failed": None,
            "size_bytes_end": None,
            "size_trend": [],
            "daily": [],
        }
    times = sorted({v for v in success.values() if period.start_ts <= v < period.end_ts})
    ordered = sorted(verified.items())
    ok_days, verified_days = set(), set()
    for i, ts in enumerate(times):
        day = period.local_day(ts)
        ok_days.add(day)
        until = times[i + 1] if i + 1 < len(times) else period.end_ts
        if any(v >= 1 for t, v in ordered if ts - BUCKET < t < until):
            verified_days.add(day)
    failed_days = {period.local_day(t) for t, v in (unverified or {}).items() if v < 1}
    sizes = sorted(size.items())
    return {
        "days_with_verified_success": len(verified_days),
        "days_with_success": len(ok_days),
        "days_in_period": len(days),
        "successes": len(times),
        "days_verification_failed": len(failed_days),
        "max_age_seconds": max_age,
        "size_bytes_end": sizes[-1][1] if sizes else None,
        "size_trend": sizes,
        "daily": [
            {
                "day": d.isoformat(),
                "success": d in ok_days,
                "verified": d in verified_days,
                "verification_failed": d in failed_days,
            }
            for d in days
        ],
    }


def compute_wal(failed: dict | None, archived: dict | None, period) -> dict:
    """WAL archiving of one database server: totals and failures per local day."""
    if failed is None and archived is None:
        return {"failures": None, "archived": None, "days_with_failures": None, "daily": []}
    failures = per_day(period, failed or {})
    total_archived = round(sum((archived or {}).values())) if archived is not None else None
    return {
        "failures": round(sum(failures.values())),
        "archived": total_archived,
        "days_with_failures": sum(1 for v in failures.values() if v > 0),
        "daily": [
            {"day": d.isoformat(), "failures": round(failures.get(d, 0.0))} for d in period.days()
        ],
    }


def analyse(ctx: Context) -> dict[str, dict[str, list[dict]]]:
    """{system: {"backups": [per backup set], "wal_archiving": [per database server]}}."""
    data = fetch(ctx)
    out = {}
    for system in ctx.systems:
        backups = []
        for b in system.backups:
            key = (system.name, b.name)
            backups.append(
                {
                    "name": b.name,
                    **compute_backup(
                        data["success"].get(key, {}),
                        data["verified"].get(key, {}),
                        data["size"].get(key, {}),
                        data["age"].get(key),
                        ctx.period,
                        data["unverified"].get(key, {}),
                    ),
                }
            )
        wal = [
            {
                "name": d.name,
                **compute_wal(
                    data["wal_failed"].get((system.name, d.name)),
                    data["wal_archived"].get((system.name, d.name)),
                    ctx.period,
                ),
            }
            for d in system.databases
        ]
        out[system.name] = {"backups": backups, "wal_archiving": wal}
    return out
