"""Database and table growth, filesystem use, days until full, peak connections.

Forecast method: a least-squares straight line through the database's total size
at the end of each hour of the period gives the growth per day; days until full
is the free space on the data filesystem at the end of the period divided by
that growth. No forecast when the size does not grow or the free space is unknown.
"""
from __future__ import annotations

from collections import defaultdict

from ..prom import buckets
from .common import Context, by_labels, by_labels_list

HOUR = 3600.0
METHOD = ("least-squares line through the total database size at the end of each hour; "
          "days until full = free bytes on the data filesystem at the end / growth per day")


def fetch(ctx: Context) -> dict:
    p, sel, client = ctx.period, ctx.sel(), ctx.client
    size = buckets(client, "sum by (system, database, datname) "
                   f"(last_over_time(aftercare_database_size_bytes{{{sel}}}[{{w}}]))",
                   p.start_ts, p.end_ts, HOUR)
    free = buckets(client, "max by (system, database) "
                   f"(last_over_time(aftercare_database_filesystem_free_bytes{{{sel}}}[{{w}}]))",
                   p.start_ts, p.end_ts, HOUR)
    fs_size = buckets(client, "max by (system, database) "
                      f"(last_over_time(aftercare_database_filesystem_size_bytes{{{sel}}}[{{w}}]))",
                      p.start_ts, p.end_ts, HOUR)
    peak = client.over_period(
        "max by (system, database) (max_over_time((sum by (system, database, job, instance) "
        f"(aftercare_database_connections{{{sel}}}))[{{range}}:60s]))", p.start_ts, p.end_ts)
    limit = client.over_period("max by (system, database) (max_over_time("
                               f"aftercare_database_max_connections{{{sel}}}[{{range}}]))",
                               p.start_ts, p.end_ts)
    tables: dict = defaultdict(dict)
    for key, points in size.items():
        labels = dict(key)
        tables[(labels.get("system", ""), labels.get("database", ""))][labels.get("datname", "")] = points
    return {"sizes": tables, "free": by_labels(free, "system", "database"),
            "fs_size": by_labels(fs_size, "system", "database"),
            "peak": {k: max(v) for k, v in by_labels_list(peak, "system", "database").items()},
            "limit": {k: max(v) for k, v in by_labels_list(limit, "system", "database").items()}}


def slope_per_second(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of value over time."""
    if len(points) < 2:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / var


def compute_database(per_datname: dict[str, dict], free: dict, fs_size: dict, peak, limit) -> dict:
    totals: dict[float, float] = defaultdict(float)
    for points in per_datname.values():
        for t, v in points.items():
            totals[t] += v
    series = sorted(totals.items())
    if not series:
        return {"size_bytes_start": None, "size_bytes_end": None, "growth_bytes": None,
                "growth_bytes_per_day": None, "days_until_full": None, "daily_size": [],
                "filesystem_free_bytes_end": None, "filesystem_used_ratio_end": None,
                "datnames": [], "peak_connections": peak, "max_connections": limit,
                "forecast_method": METHOD}
    slope = slope_per_second(series)
    per_day = slope * 86400 if slope is not None else None
    free_end = free[max(free)] if free else None
    size_end = fs_size[max(fs_size)] if fs_size else None
    days = (free_end / per_day) if (free_end is not None and per_day and per_day > 0) else None
    datnames = []
    for name, points in per_datname.items():
        ordered = sorted(points.items())
        datnames.append({"name": name, "size_bytes_end": ordered[-1][1],
                         "growth_bytes": ordered[-1][1] - ordered[0][1]})
    datnames.sort(key=lambda d: -d["size_bytes_end"])
    return {
        "size_bytes_start": series[0][1],
        "size_bytes_end": series[-1][1],
        "growth_bytes": series[-1][1] - series[0][1],
        "growth_bytes_per_day": per_day,
        "days_until_full": days,
        "filesystem_free_bytes_end": free_end,
        "filesystem_used_ratio_end": (1 - free_end / size_end) if free_end is not None and size_end else None,
        "daily_size": series[23::24] if len(series) > 24 else series,
        "datnames": datnames[:10],
        "peak_connections": peak,
        "max_connections": limit,
        "forecast_method": METHOD,
    }


def analyse(ctx: Context) -> dict[str, list[dict]]:
    data = fetch(ctx)
    out = {}
    for system in ctx.systems:
        rows = []
        for db in system.databases:
            key = (system.name, db.name)
            row = compute_database(data["sizes"].get(key, {}), data["free"].get(key, {}),
                                   data["fs_size"].get(key, {}), data["peak"].get(key),
                                   data["limit"].get(key))
            rows.append({"name": db.name, **row})
        out[system.name] = rows
    return out
