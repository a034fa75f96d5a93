"""Data exchange jobs: runs, failures, success ratio, missed deadlines, records, backlog peaks."""

from __future__ import annotations

from .common import STEP, Context, by_labels, by_labels_list

QUERIES = {
    "runs": (
        "sum by (system, exchange, result) "
        "(increase(aftercare_exchange_runs_total{{{sel}}}[{{range}}]))"
    ),
    "records": (
        "sum by (system, exchange) (increase(aftercare_exchange_records_total{{{sel}}}[{{range}}]))"
    ),
    "backlog": (
        "max by (system, exchange) "
        "(max_over_time(aftercare_exchange_backlog_files{{{sel}}}[{{range}}]))"
    ),
    "backlog_age": (
        "max by (system, exchange) "
        "(max_over_time(aftercare_exchange_backlog_oldest_age_seconds{{{sel}}}[{{range}}]))"
    ),
    "last_success": (
        "max by (system, exchange) "
        "(max_over_time(aftercare_exchange_last_success_timestamp_seconds{{{sel}}}[{{range}}]))"
    ),
}
OVERDUE = (
    "max by (system, exchange) (aftercare_exchange_deadline_timestamp_seconds{{{sel}}}) < time()"
)


def fetch(ctx: Context) -> dict:
    p, out = ctx.period, {}
    for name, template in QUERIES.items():
        keys = ("system", "exchange", "result") if name == "runs" else ("system", "exchange")
        results = by_labels_list(
            ctx.client.over_period(template.format(sel=ctx.sel()), p.start_ts, p.end_ts), *keys
        )
        combine = sum if name in ("runs", "records") else max
        out[name] = {k: combine(v) for k, v in results.items()}
    overdue = ctx.client.subquery_points(OVERDUE.format(sel=ctx.sel()), p.start_ts, p.end_ts, STEP)
    out["overdue"] = by_labels(overdue, "system", "exchange")
    return out


def compute_job(key: tuple, data: dict) -> dict:
    runs = {r: round(v) for (s, e, r), v in data["runs"].items() if (s, e) == key}
    overdue = data["overdue"].get(key, [])
    has_data = bool(runs) or key in data["last_success"]
    total = sum(runs.values())
    failures = runs.get("failure", 0) if has_data else None
    return {
        "runs": total if has_data else None,
        "failures": failures,
        "success_ratio": (runs.get("success", 0) / total) if total else None,
        "missed_deadlines": len({v for _, v in overdue}) if has_data else None,
        "overdue_seconds": len(overdue) * STEP if has_data else None,
        "records": round(data["records"][key]) if key in data["records"] else None,
        "backlog_peak_files": data["backlog"].get(key),
        "backlog_peak_age_seconds": data["backlog_age"].get(key),
        "last_success": data["last_success"].get(key),
    }


def analyse(ctx: Context) -> dict[str, list[dict]]:
    data = fetch(ctx)
    return {
        s.name: [{"name": j.name, **compute_job((s.name, j.name), data)} for j in s.exchange]
        for s in ctx.systems
    }
