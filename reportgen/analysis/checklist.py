"""The inspection checklist (巡检项): per item the measured value, the threshold, the result.

Results are ``normal``, ``attention``, ``abnormal`` or ``no_data``.  Thresholds are the
alerts' own (:mod:`.thresholds`, read from the rule files); where no alert has one the
threshold is None and the row shows the figure.  Each row's evidence is the PromQL of
its figure over the period, and a Prometheus graph link of the period when the report
knows the server's address.  Other sections add rows through :data:`ROW_HOOKS`.
"""

from __future__ import annotations

from urllib.parse import quote

from .summary import DAY
from .thresholds import thresholds

NORMAL, ATTENTION, ABNORMAL, NO_DATA = "normal", "attention", "abnormal", "no_data"
ROW_HOOKS: list = []
"""Functions (system doc, thresholds) -> [row] adding items, e.g. for the servers."""
BACKUP_MAX_AGE = 2 * DAY  # the age the backups grade calls stale


def row(
    area: str, item: str, target: str, value, threshold, result: str, expr: str, unit: str
) -> dict:
    return {
        "area": area,
        "item": item,
        "target": target,
        "value": value,
        "threshold": threshold,
        "result": result,
        "unit": unit,
        "evidence": {"promql": expr},
    }


def above(value, attention=None, abnormal=None) -> str:
    """A result for a figure that is bad when high."""
    if value is None:
        return NO_DATA
    if abnormal is not None and value >= abnormal:
        return ABNORMAL
    if attention is not None and value >= attention:
        return ATTENTION
    return NORMAL


def _sel(system: str, label: str, name: str) -> str:
    return f'system="{system}",{label}="{name}"'


def _up_rows(s: dict, kind: str, label: str, metric: str, area: str) -> list[dict]:
    out = []
    for r in s[kind]:
        sel = _sel(s["name"], label, r["name"])
        ratio = r["availability_ratio"]
        up = NO_DATA if ratio is None else (ATTENTION if r["outages"] else NORMAL)
        out.append(
            row(
                area,
                f"{label}_up",
                r["name"],
                ratio,
                1.0,
                up,
                f"avg_over_time({metric}{{{sel}}}[{{range}}])",
                "ratio",
            )
        )
        if kind == "databases":
            continue
        contract = r.get("contract_availability_ratio")
        result = NO_DATA if contract is None else (ABNORMAL if r["sla_met"] is False else NORMAL)
        out.append(
            row(
                area,
                "contract_availability",
                r["name"],
                contract,
                r["sla_target"],
                result,
                f"avg_over_time({metric}{{{sel}}}[{{range}}])",
                "ratio",
            )
        )
    return out


def _database_rows(s: dict, t: dict) -> list[dict]:
    out = []
    perf = {p["name"]: p for p in s["performance"]["databases"]}
    wal = {w["name"]: w for w in s.get("wal_archiving", [])}
    for d in s["databases"]:
        sel, p = _sel(s["name"], "database", d["name"]), perf.get(d["name"], {})
        warn = 1 - t["database_filesystem_warning_free_ratio"]
        crit = 1 - t["database_filesystem_critical_free_ratio"]
        out.append(
            row(
                "database",
                "filesystem_used",
                d["name"],
                d["filesystem_used_ratio_end"],
                warn,
                above(d["filesystem_used_ratio_end"], warn, crit),
                f"1 - aftercare:database_filesystem:free_ratio{{{sel}}}",
                "ratio",
            )
        )
        days, limit = d["days_until_full"], t["database_full_within_days"]
        has_fs = d["filesystem_used_ratio_end"] is not None
        out.append(
            row(
                "database",
                "days_until_full",
                d["name"],
                days,
                limit,
                NO_DATA
                if not has_fs
                else (ABNORMAL if days is not None and days < limit else NORMAL),
                f"aftercare_database_filesystem_free_bytes{{{sel}}}",
                "days",
            )
        )
        ratio = d["peak_connections_ratio"]
        out.append(
            row(
                "database",
                "connections",
                d["name"],
                ratio,
                t["database_connections_warning_ratio"],
                above(
                    ratio,
                    t["database_connections_warning_ratio"],
                    t["database_connections_critical_ratio"],
                ),
                f"max_over_time(aftercare:database_connections:used_ratio{{{sel}}}[{{range}}])",
                "ratio",
            )
        )
        hit = p.get("cache_hit_ratio")
        out.append(
            row(
                "database",
                "cache_hit",
                d["name"],
                hit,
                None,
                NO_DATA if hit is None else NORMAL,
                f"increase(aftercare_database_blocks_hit_total{{{sel}}}[{{range}}])",
                "ratio",
            )
        )
        deadlocks = p.get("deadlocks")
        out.append(
            row(
                "database",
                "deadlocks",
                d["name"],
                deadlocks,
                t["database_deadlocks_per_hour"],
                above(deadlocks, 1),
                f"increase(aftercare_database_deadlocks_total{{{sel}}}[{{range}}])",
                "count",
            )
        )
        age, limit = p.get("longest_transaction_seconds"), t["database_transaction_age_seconds"]
        out.append(
            row(
                "database",
                "long_transactions",
                d["name"],
                age,
                limit,
                above(age, None, limit),
                f"max_over_time(aftercare_database_oldest_transaction_seconds{{{sel}}}[{{range}}])",
                "seconds",
            )
        )
        logs = p.get("log_messages")
        errors = (
            None
            if not logs
            else sum(n for sev, n in logs.items() if sev in ("error", "fatal", "panic"))
        )
        out.append(
            row(
                "database",
                "database_log_errors",
                d["name"],
                errors,
                None,
                above(errors, 1),
                f"increase(aftercare_database_log_messages_total{{{sel}}}[{{range}}])",
                "count",
            )
        )
        out.append(
            row(
                "database",
                "replication_lag",
                d["name"],
                None,
                t["database_replication_lag_seconds"],
                NO_DATA,
                f"max_over_time(aftercare_database_replication_lag_seconds{{{sel}}}[{{range}}])",
                "seconds",
            )
        )
        w = wal.get(d["name"])
        failures = w["failures"] if w else None
        out.append(
            row(
                "database",
                "wal_archiving",
                d["name"],
                failures,
                0,
                above(failures, 1),
                f"increase(aftercare_database_wal_archive_failures_total{{{sel}}}[{{range}}])",
                "count",
            )
        )
    return out


def _service_rows(s: dict, t: dict) -> list[dict]:
    out = []
    for q in s["performance"]["services"]:
        sel = _sel(s["name"], "service", q["name"])
        p95, limit = q["p95_seconds"], q["sla_response_seconds"]
        result = (
            NO_DATA
            if p95 is None
            else (ABNORMAL if p95 > limit else ATTENTION if q["slow_periods"] else NORMAL)
        )
        out.append(
            row(
                "services",
                "p95_response",
                q["name"],
                p95,
                limit,
                result,
                f"quantile_over_time(0.95, aftercare_service_response_seconds{{{sel}}}[{{range}}])",
                "seconds",
            )
        )
        out.append(
            row(
                "services",
                "tls_days_left",
                q["name"],
                None,
                t["tls_expiry_warning_seconds"] / DAY,
                NO_DATA,
                f"(aftercare_tls_cert_expiry_timestamp_seconds{{{sel}}} - time()) / 86400",
                "days",
            )
        )
    return out


def _log_rows(s: dict) -> list[dict]:
    out = []
    for r in s["logs"]:
        sel = _sel(s["name"], "source", r["name"])
        errors = None if r["lines"] is None else r["lines"].get("error", 0)
        out.append(
            row(
                "logs",
                "log_error_lines",
                r["name"],
                errors,
                None,
                above(errors, 1),
                f'increase(aftercare_log_lines_total{{{sel},level="error"}}[{{range}}])',
                "count",
            )
        )
    return out


def _integration_rows(s: dict, t: dict) -> list[dict]:
    return [
        row(
            "integrations",
            "integration_latency",
            r["name"],
            None,
            t["integration_latency_seconds"],
            NO_DATA,
            f"max_over_time(aftercare:integration_latency_seconds:avg5m"
            f"{{{_sel(s['name'], 'integration', r['name'])}}}[{{range}}])",
            "seconds",
        )
        for r in s["integrations"]
    ]


def _exchange_rows(s: dict, t: dict) -> list[dict]:
    out = []
    for x in s["exchange"]:
        sel = _sel(s["name"], "exchange", x["name"])
        runs = f"increase(aftercare_exchange_runs_total{{{sel}}}[{{range}}])"
        out.append(
            row(
                "exchange",
                "exchange_runs",
                x["name"],
                x["runs"],
                None,
                NO_DATA if x["runs"] is None else NORMAL,
                runs,
                "count",
            )
        )
        out.append(
            row(
                "exchange",
                "exchange_failures",
                x["name"],
                x["failures"],
                0,
                above(x["failures"], 1),
                runs,
                "count",
            )
        )
        out.append(
            row(
                "exchange",
                "exchange_missed_deadlines",
                x["name"],
                x["missed_deadlines"],
                0,
                above(x["missed_deadlines"], None, 1),
                f"aftercare_exchange_deadline_timestamp_seconds{{{sel}}}",
                "count",
            )
        )
        age, limit = x["backlog_peak_age_seconds"], t["exchange_backlog_age_seconds"]
        out.append(
            row(
                "exchange",
                "exchange_backlog",
                x["name"],
                age,
                limit,
                NO_DATA if x["runs"] is None else above(age, None, limit),
                f"max_over_time(aftercare_exchange_backlog_oldest_age_seconds{{{sel}}}[{{range}}])",
                "seconds",
            )
        )
    return out


def _backup_rows(s: dict, t: dict) -> list[dict]:
    out = []
    for b in s["backups"]:
        sel = _sel(s["name"], "backup", b["name"])
        out.append(
            row(
                "backups",
                "backup_age",
                b["name"],
                b["max_age_seconds"],
                BACKUP_MAX_AGE,
                above(b["max_age_seconds"], None, BACKUP_MAX_AGE + 1),
                f"time() - aftercare_backup_last_success_timestamp_seconds{{{sel}}}",
                "seconds",
            )
        )
        days = b["days_with_verified_success"]
        share = None if days is None else days / b["days_in_period"]
        out.append(
            row(
                "backups",
                "backup_verified",
                b["name"],
                share,
                1.0,
                NO_DATA if share is None else (NORMAL if share >= 1 else ATTENTION),
                f"aftercare_backup_verified{{{sel}}}",
                "ratio",
            )
        )
        sizes = [v for _, v in b.get("size_trend") or ()]
        changes = [
            new / old for old, new in zip(sizes, sizes[1:], strict=False) if old > 0 and new != old
        ]
        lowest = min(changes) if changes else (1.0 if sizes else None)
        out.append(
            row(
                "backups",
                "backup_size_change",
                b["name"],
                lowest,
                t["backup_shrink_ratio"],
                NO_DATA
                if lowest is None
                else (ABNORMAL if lowest < t["backup_shrink_ratio"] else NORMAL),
                f"aftercare_backup_size_bytes{{{sel}}}",
                "ratio",
            )
        )
    return out


def build(s: dict, period) -> list[dict]:
    """The checklist of one analysed system (plain dict), evidence over ``period``.

    ``evidence.graph`` is the graph page of the period relative to the server
    (``method.prometheus`` + it), so the figures do not depend on which server answered."""
    t = thresholds()
    rows = (
        _up_rows(s, "databases", "database", "aftercare_database_up", "database")
        + _database_rows(s, t)
        + _up_rows(s, "services", "service", "aftercare_service_up", "services")
        + _service_rows(s, t)
        + _log_rows(s)
        + _up_rows(s, "integrations", "integration", "aftercare_integration_up", "integrations")
        + _integration_rows(s, t)
        + _exchange_rows(s, t)
        + _backup_rows(s, t)
    )
    for hook in ROW_HOOKS:
        rows += hook(s, t)
    seconds = int(round(period.seconds))
    for r in rows:
        expr = r["evidence"]["promql"].replace("{range}", f"{seconds}s")
        r["evidence"]["promql"] = expr
        r["evidence"]["graph"] = (
            f"/graph?g0.expr={quote(expr)}&g0.tab=0"
            f"&g0.range_input={seconds}s"
            f"&g0.end_input={quote(period.end.isoformat())}"
        )
    return rows
