"""Response times (p50/p95 over the period and by week), slow periods, database activity."""

from __future__ import annotations

from collections import defaultdict

from . import traffic
from .common import STEP, Context, by_labels, by_labels_list, episodes

WEEK = 7 * 86400.0
RESP = "aftercare_service_response_seconds"


def _quantile(q: float, sel: str) -> str:
    return f"max by (system, service) (quantile_over_time({q}, {RESP}{{{sel}}}[{{range}}]))"


def _weeks(period) -> list[tuple[float, float]]:
    out, t = [], period.start_ts
    while t < period.end_ts:
        out.append((t, min(t + WEEK, period.end_ts)))
        t += WEEK
    return out


def fetch_response(ctx: Context) -> dict:
    p, sel, client = ctx.period, ctx.sel(), ctx.client
    month = {}
    for name, q in (("p50", 0.5), ("p95", 0.95)):
        results = client.over_period(_quantile(q, sel), p.start_ts, p.end_ts)
        month[name] = {k: max(v) for k, v in by_labels_list(results, "system", "service").items()}
    if ctx.lean:
        return {"month": month, "weekly": {}, "slow": None, "weeks": []}
    weekly: dict = defaultdict(dict)
    for index, (a, b) in enumerate(_weeks(p)):
        for name, q in (("p50", 0.5), ("p95", 0.95)):
            expr = _quantile(q, sel).replace("{range}", f"{int(round((b - a) * 1000)) - 1}ms")
            for series in client.instant(expr, b - 0.001):
                key = (series["metric"].get("system", ""), series["metric"].get("service", ""))
                weekly[key].setdefault(index, {})[name] = float(series["value"][1])
    thresholds = defaultdict(list)
    for system in ctx.systems:
        thresholds[system.sla.response_time].append(system.name)
    slow = {}
    for limit, names in thresholds.items():
        sub = Context(client, p, [s for s in ctx.systems if s.name in names])
        inner = f"max by (system, service) ({RESP}{{{sub.sel()}}}) > {limit:g}"
        slow.update(
            by_labels(
                client.subquery_points(inner, p.start_ts, p.end_ts, STEP), "system", "service"
            )
        )
    return {"month": month, "weekly": weekly, "slow": slow, "weeks": _weeks(p)}


def compute_service(key: tuple, data: dict, limit: float) -> dict:
    slow = data["slow"]
    runs = episodes([t for t, _ in (slow or {}).get(key, [])], STEP)
    weeks = []
    for index, (a, b) in enumerate(data["weeks"]):
        figures = data["weekly"].get(key, {}).get(index, {})
        weeks.append(
            {
                "from": a,
                "to": b,
                "p50_seconds": figures.get("p50"),
                "p95_seconds": figures.get("p95"),
            }
        )
    return {
        "p50_seconds": data["month"]["p50"].get(key),
        "p95_seconds": data["month"]["p95"].get(key),
        "sla_response_seconds": limit,
        "weekly": weeks,
        "slow_periods": len(runs) if slow is not None else None,
        "slow_seconds": sum(b - a + STEP for a, b in runs) if slow is not None else None,
        "slow_list": [{"started": a, "ended": b + STEP} for a, b in runs[:20]],
        "_slow": None if slow is None else [t for t, _ in slow.get(key, [])],
    }


DB_QUERIES = {  # figure -> (template over {range}, rounding to a count)
    "commits": (
        (
            "sum by (system, database) "
            "(increase(aftercare_database_commits_total{{{sel}}}[{{range}}]))"
        ),
        True,
    ),
    "rollbacks": (
        (
            "sum by (system, database) "
            "(increase(aftercare_database_rollbacks_total{{{sel}}}[{{range}}]))"
        ),
        True,
    ),
    "deadlocks": (
        (
            "sum by (system, database) "
            "(increase(aftercare_database_deadlocks_total{{{sel}}}[{{range}}]))"
        ),
        True,
    ),
    "wal_archive_failures": (
        (
            "sum by (system, database) "
            "(increase(aftercare_database_wal_archive_failures_total{{{sel}}}[{{range}}]))"
        ),
        True,
    ),
    "blocks_hit": (
        (
            "sum by (system, database) "
            "(increase(aftercare_database_blocks_hit_total{{{sel}}}[{{range}}]))"
        ),
        False,
    ),
    "blocks_read": (
        (
            "sum by (system, database) "
            "(increase(aftercare_database_blocks_read_total{{{sel}}}[{{range}}]))"
        ),
        False,
    ),
    "longest_transaction_seconds": (
        (
            "max by (system, database) "
            "(max_over_time(aftercare_database_oldest_transaction_seconds{{{sel}}}[{{range}}]))"
        ),
        None,
    ),
    "longest_query_seconds": (
        (
            "max by (system, database) "
            "(max_over_time(aftercare_database_longest_query_seconds{{{sel}}}[{{range}}]))"
        ),
        None,
    ),
    "slow_queries_peak": (
        (
            "max by (system, database) "
            "(max_over_time(aftercare_database_slow_queries{{{sel}}}[{{range}}]))"
        ),
        None,
    ),
    "slow_statements": (
        "sum by (system, database) (increase("
        "aftercare_database_slow_statements_total{{{sel}}}[{{range}}]))",
        True,
    ),
}
DAY = 86400.0
SLOW_PER_DAY = (
    "sum by (system, database) "
    "(increase(aftercare_database_slow_statements_total{{{sel}}}[{range}]))"
)
# the top-N statements' time and calls over the period, and their normalised text
STATEMENT_QUERIES = {
    "seconds": "sum by (system, database, datname, queryid) "
    "(increase(aftercare_database_statement_seconds_total{{{sel}}}[{{range}}]))",
    "calls": "sum by (system, database, datname, queryid) "
    "(increase(aftercare_database_statement_calls_total{{{sel}}}[{{range}}]))",
}
STATEMENT_TEXT = (
    "max by (system, database, datname, queryid, statement) "
    "(max_over_time(aftercare_database_statement_info{{{sel}}}[{{range}}]))"
)
SLOWEST = 5
LOG_QUERY = (
    "sum by (system, database, severity) "
    "(increase(aftercare_database_log_messages_total{{{sel}}}[{{range}}]))"
)


def fetch_database(ctx: Context) -> dict:
    p, out = ctx.period, {}
    for figure, (template, counts) in DB_QUERIES.items():
        results = ctx.client.over_period(template.format(sel=ctx.sel()), p.start_ts, p.end_ts)
        combine = sum if counts is not None else max
        out[figure] = {
            k: combine(v) for k, v in by_labels_list(results, "system", "database").items()
        }
    results = ctx.client.over_period(LOG_QUERY.format(sel=ctx.sel()), p.start_ts, p.end_ts)
    out["log"] = {
        k: sum(v) for k, v in by_labels_list(results, "system", "database", "severity").items()
    }
    out["slow_per_day"] = _slow_per_day(ctx)
    out["statements"] = _statements(ctx)
    return out


def _slow_per_day(ctx: Context) -> dict[tuple, list[tuple[float, float]]]:
    """(day start, completed slow statements that day) per database, whole days of the period."""
    p = ctx.period
    first_end = p.start_ts + DAY
    if first_end > p.end_ts + 1e-6:
        return {}
    expr = SLOW_PER_DAY.format(sel=ctx.sel(), range="86399999ms")
    points = ctx.client.range(expr, first_end - 0.001, p.end_ts - 0.001, DAY)
    return {
        k: [(float(t) + 0.001 - DAY, float(v)) for t, v in values]
        for k, values in by_labels(points, "system", "database").items()
    }


def _statements(ctx: Context) -> dict[tuple, list[dict]]:
    """Per database, its top-N statements' calls and time over the period, with their text."""
    p, figures = ctx.period, {}
    for name, template in STATEMENT_QUERIES.items():
        results = ctx.client.over_period(template.format(sel=ctx.sel()), p.start_ts, p.end_ts)
        figures[name] = {
            k: sum(v)
            for k, v in by_labels_list(results, "system", "database", "datname", "queryid").items()
        }
    texts = {}
    for metric, _ in ctx.client.over_period(
        STATEMENT_TEXT.format(sel=ctx.sel()), p.start_ts, p.end_ts
    ):
        key = tuple(metric.get(n, "") for n in ("system", "database", "datname", "queryid"))
        texts[key] = metric.get("statement", "")
    out: dict[tuple, list[dict]] = defaultdict(list)
    for key, seconds in figures["seconds"].items():
        calls = round(figures["calls"].get(key, 0))
        if calls <= 0:
            continue
        out[key[:2]].append(
            {
                "datname": key[2],
                "queryid": key[3],
                "statement": texts.get(key),
                "calls": calls,
                "total_seconds": seconds,
                "mean_seconds": seconds / calls,
            }
        )
    return out


def compute_database(key: tuple, data: dict, seconds: float) -> dict:
    def get(figure):
        value = data[figure].get(key)
        counts = DB_QUERIES[figure][1]
        return round(value) if (value is not None and counts) else value

    hit, read = data["blocks_hit"].get(key), data["blocks_read"].get(key)
    commits = data["commits"].get(key)
    log = {sev: round(v) for (s, d, sev), v in data["log"].items() if (s, d) == key}
    return {
        "commits_per_second": (commits / seconds) if commits is not None else None,
        "rollbacks": get("rollbacks"),
        "deadlocks": get("deadlocks"),
        "wal_archive_failures": get("wal_archive_failures"),
        "cache_hit_ratio": (hit / (hit + read))
        if hit is not None and read is not None and hit + read > 0
        else None,
        "longest_transaction_seconds": get("longest_transaction_seconds"),
        "longest_query_seconds": get("longest_query_seconds"),
        "slow_queries_peak": get("slow_queries_peak"),
        # completed slow statements, as the server logged them (None: no server log read)
        "slow_statements": get("slow_statements"),
        "slow_statements_per_day": [
            {"day": day, "count": round(n)} for day, n in data["slow_per_day"].get(key, [])
        ],
        # the slowest by mean time per call, of the statements pg_stat_statements or
        # performance_schema gives (their text only for data statements)
        "slowest_statements": sorted(
            data["statements"].get(key, []), key=lambda x: -x["mean_seconds"]
        )[:SLOWEST],
        "log_messages": log,
    }


def analyse(ctx: Context) -> dict[str, dict]:
    response = fetch_response(ctx)
    database = fetch_database(ctx)
    http = traffic.analyse(ctx)
    out = {}
    for system in ctx.systems:
        out[system.name] = {
            "services": [
                {
                    "name": s.name,
                    **compute_service((system.name, s.name), response, system.sla.response_time),
                }
                for s in system.services
            ],
            "databases": [
                {
                    "name": d.name,
                    **compute_database((system.name, d.name), database, ctx.period.seconds),
                }
                for d in system.databases
            ],
            "traffic": http[system.name],
        }
    return out
