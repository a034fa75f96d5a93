"""Database and table growth, filesystem use and its forecast, peak connections.

Forecast method: a least-squares straight line through the data filesystem's used
bytes (size - free) at the end of each hour of the period gives its growth per
day, whatever fills it (tables, WAL, logs); days until full = free bytes at the end
of the period / that growth. No forecast when the use does not grow. The same line
through the database's own total size gives its growth; free bytes / that growth
is reported as well, for comparison.

Tables: the exporter reports the N largest tables of each database and one series
``table="__other__"`` holding the rest. A table that entered or left the top N
during the period is marked ``partial`` (its growth covers only the time it was
reported); ``__other__`` is never a "top grower": its changes include tables moving
in and out of the top N, so it is reported per database as "other tables".
"""

from __future__ import annotations

from collections import defaultdict

from ..prom import buckets
from .common import HOUR, Context, by_labels, by_labels_list

DAY = 86400.0
OTHER = "__other__"
TOP_GROWERS = 10
METHOD = (
    "least-squares lines through the data filesystem's used bytes and the databases' total "
    "size at the end of each hour; days until full = free bytes at the end / growth per day, "
    "the earlier of the two forecasts (the filesystem's own trend, or the databases' growth)"
)


def fetch(ctx: Context) -> dict:
    p, sel, client = ctx.period, ctx.sel(), ctx.client
    size = buckets(
        client,
        "sum by (system, database, datname) "
        f"(last_over_time(aftercare_database_size_bytes{{{sel}}}[{{w}}]))",
        p.start_ts,
        p.end_ts,
        HOUR,
    )
    free = buckets(
        client,
        "max by (system, database) "
        f"(last_over_time(aftercare_database_filesystem_free_bytes{{{sel}}}[{{w}}]))",
        p.start_ts,
        p.end_ts,
        HOUR,
    )
    fs_size = buckets(
        client,
        "max by (system, database) "
        f"(last_over_time(aftercare_database_filesystem_size_bytes{{{sel}}}[{{w}}]))",
        p.start_ts,
        p.end_ts,
        HOUR,
    )
    peak = client.over_period(
        "max by (system, database) (max_over_time((sum by (system, database, job, instance) "
        f"(aftercare_database_connections{{{sel}}}))[{{range}}:60s]))",
        p.start_ts,
        p.end_ts,
    )
    limit = client.over_period(
        "max by (system, database) (max_over_time("
        f"aftercare_database_max_connections{{{sel}}}[{{range}}]))",
        p.start_ts,
        p.end_ts,
    )
    sizes: dict = defaultdict(dict)
    for key, points in size.items():
        labels = dict(key)
        sizes[(labels.get("system", ""), labels.get("database", ""))][labels.get("datname", "")] = (
            points
        )
    out = {
        "sizes": sizes,
        "free": by_labels(free, "system", "database"),
        "fs_size": by_labels(fs_size, "system", "database"),
        "peak": {k: max(v) for k, v in by_labels_list(peak, "system", "database").items()},
        "limit": {k: max(v) for k, v in by_labels_list(limit, "system", "database").items()},
        "tables": {},
    }
    if not ctx.lean:
        out["tables"] = fetch_tables(ctx)
    return out


def fetch_tables(ctx: Context) -> dict:
    """{(system, database): {(datname, table): {"first": value, "days": {bucket start: value}}}}."""
    p, client = ctx.period, ctx.client
    template = (
        "sum by (system, database, datname, table) (last_over_time("
        f"aftercare_database_table_size_bytes{{{ctx.sel()}}}[{{w}}]))"
    )
    daily = buckets(client, template, p.start_ts, p.end_ts, DAY)
    first_hour = min(HOUR, p.seconds)
    first = buckets(client, template, p.start_ts, p.start_ts + first_hour, first_hour)
    out: dict = defaultdict(dict)
    for key in set(daily) | set(first):
        labels = dict(key)
        values = first.get(key, {})
        out[(labels.get("system", ""), labels.get("database", ""))][
            (labels.get("datname", ""), labels.get("table", ""))
        ] = {"first": next(iter(values.values())) if values else None, "days": daily.get(key, {})}
    return out


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


def compute_tables(tables: dict, period) -> dict:
    """Top growers among the reported tables, and the rest (``__other__``) per datname."""
    last_day = max((t for v in tables.values() for t in v["days"]), default=None)
    growers, other = [], []
    total_start = total_end = 0.0
    for (datname, table), figures in sorted(tables.items()):
        days = sorted(figures["days"].items())
        if not days:
            continue
        first, end = figures["first"], days[-1][1]
        total_start += first or 0.0
        total_end += end if days[-1][0] == last_day else 0.0
        start = first if first is not None else days[0][1]
        row = {
            "datname": datname,
            "table": table,
            "size_bytes_start": start,
            "size_bytes_end": end,
            "growth_bytes": end - start,
        }
        if table == OTHER:
            other.append(row)
            continue
        row["partial"] = first is None or days[-1][0] != last_day
        since = period.start_ts if first is not None else days[0][0]
        span_days = (min(days[-1][0] + DAY, period.end_ts) - since) / DAY
        row["growth_bytes_per_day"] = row["growth_bytes"] / span_days if span_days > 0 else None
        growers.append(row)
    growers.sort(key=lambda r: (-r["growth_bytes"], r["datname"], r["table"]))
    has = bool(growers or other)
    return {
        "top_growers": growers[:TOP_GROWERS],
        "other_tables": other,
        "tables_reported": len(growers),
        "tables_total_bytes_start": total_start if has else None,
        "tables_total_bytes_end": total_end if has else None,
    }


def compute_filesystem(free: dict, fs_size: dict) -> dict:
    """Use at start and end, growth per day of the used bytes, days until full."""
    if not free:
        return {
            "filesystem_free_bytes_end": None,
            "filesystem_size_bytes": None,
            "filesystem_used_ratio_start": None,
            "filesystem_used_ratio_end": None,
            "filesystem_growth_bytes_per_day": None,
            "days_until_full": None,
            "filesystem_daily_used_ratio": [],
        }
    times = sorted(free)
    size_end = fs_size[max(fs_size)] if fs_size else None
    used = [(t, fs_size[t] - free[t]) for t in times if t in fs_size]
    slope = slope_per_second(used) if used else slope_per_second([(t, -free[t]) for t in times])
    per_day = slope * DAY if slope is not None else None
    free_end = free[times[-1]]

    def used_ratio(t):
        return (1 - free[t] / fs_size[t]) if fs_size.get(t) else None

    return {
        "filesystem_free_bytes_end": free_end,
        "filesystem_size_bytes": size_end,
        "filesystem_used_ratio_start": used_ratio(times[0]),
        "filesystem_used_ratio_end": used_ratio(times[-1]),
        "filesystem_growth_bytes_per_day": per_day,
        "days_until_full": (free_end / per_day) if per_day and per_day > 0 else None,
        "filesystem_daily_used_ratio": [(t, used_ratio(t)) for t in times[23::24]]
        if len(times) > 24
        else [(t, used_ratio(t)) for t in times],
    }


def compute_database(
    per_datname: dict[str, dict], free: dict, fs_size: dict, peak, limit, tables: dict, period
) -> dict:
    totals: dict[float, float] = defaultdict(float)
    for points in per_datname.values():
        for t, v in points.items():
            totals[t] += v
    series = sorted(totals.items())
    fs = compute_filesystem(free, fs_size)
    out = {
        "peak_connections": peak,
        "max_connections": limit,
        "peak_connections_ratio": (peak / limit) if peak is not None and limit else None,
        "forecast_method": METHOD,
        **fs,
        **compute_tables(tables, period),
    }
    out["days_until_full_by_filesystem_trend"] = fs["days_until_full"]
    if not series:
        return {
            **out,
            "size_bytes_start": None,
            "size_bytes_end": None,
            "growth_bytes": None,
            "growth_bytes_per_day": None,
            "days_until_full_by_database_growth": None,
            "daily_size": [],
            "datnames": [],
        }
    slope = slope_per_second(series)
    per_day = slope * DAY if slope is not None else None
    free_end = fs["filesystem_free_bytes_end"]
    datnames = []
    for name, points in per_datname.items():
        ordered = sorted(points.items())
        datnames.append(
            {
                "name": name,
                "size_bytes_start": ordered[0][1],
                "size_bytes_end": ordered[-1][1],
                "growth_bytes": ordered[-1][1] - ordered[0][1],
            }
        )
    datnames.sort(key=lambda d: -d["size_bytes_end"])
    by_growth = (free_end / per_day) if (free_end is not None and per_day and per_day > 0) else None
    forecasts = [d for d in (fs["days_until_full"], by_growth) if d is not None]
    return {
        **out,
        "days_until_full": min(forecasts) if forecasts else None,
        "size_bytes_start": series[0][1],
        "size_bytes_end": series[-1][1],
        "growth_bytes": series[-1][1] - series[0][1],
        "growth_bytes_per_day": per_day,
        "days_until_full_by_database_growth": by_growth,
        "daily_size": series[23::24] if len(series) > 24 else series,
        "datnames": datnames[:10],
    }


def analyse(ctx: Context) -> dict[str, list[dict]]:
    data = fetch(ctx)
    out = {}
    for system in ctx.systems:
        rows = []
        for db in system.databases:
            key = (system.name, db.name)
            row = compute_database(
                data["sizes"].get(key, {}),
                data["free"].get(key, {}),
                data["fs_size"].get(key, {}),
                data["peak"].get(key),
                data["limit"].get(key),
                data["tables"].get(key, {}),
                ctx.period,
            )
            rows.append({"name": db.name, **row})
        out[system.name] = rows
    return out
