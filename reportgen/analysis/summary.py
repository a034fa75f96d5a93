"""Grades per area and system, and recommendations backed by an evidence figure."""

from __future__ import annotations

from exporters.areas import GRADE_KEYS

from .. import runbooks
from .common import worst

DAY = 86400.0
HTTP_5XX_ATTENTION, HTTP_5XX_CRITICAL = 0.01, 0.05
SLOW_REQUESTS_ATTENTION = 0.05
CONNECTIONS_ATTENTION = 0.8


def _rec(
    severity: str, key: str, target: str, evidence: dict, alertname: str | None = None
) -> dict:
    return {
        "severity": severity,
        "key": key,
        "target": target,
        "evidence": evidence,
        "runbook": runbooks.for_recommendation(key, alertname),
    }


def _availability(s: dict, recs: list) -> str:
    g = []
    for kind in ("services", "integrations"):
        for row in s[kind]:
            if row["availability_ratio"] is None:
                continue
            if row["sla_met"] is False:  # judged on the contract figure (slow is a fault)
                g.append("critical" if kind == "services" else "attention")
                evidence = {
                    "availability_ratio": row["availability_ratio"],
                    "sla_target": row["sla_target"],
                    "outages": row["outages"],
                }
                if row.get("contract_availability_ratio") is not None:
                    evidence.update(
                        {
                            k: row[k]
                            for k in (
                                "contract_availability_ratio",
                                "fault_seconds",
                                "slow_seconds",
                            )
                        }
                    )
                recs.append(
                    _rec(
                        "critical" if kind == "services" else "warning",
                        "availability_below_sla" if kind == "services" else "integration_below_sla",
                        row["name"],
                        evidence,
                    )
                )
            elif row["outages"] or row["coverage_ratio"] < 0.99:
                g.append("attention")
            else:
                g.append("healthy")
            if row["coverage_ratio"] < 0.99:
                recs.append(
                    _rec(
                        "warning",
                        "low_coverage",
                        row["name"],
                        {"coverage_ratio": row["coverage_ratio"]},
                    )
                )
    return worst(g)


def _performance(s: dict, recs: list) -> str:
    g = []
    for row in s["performance"]["services"]:
        if row["p95_seconds"] is None:
            continue
        if row["p95_seconds"] > row["sla_response_seconds"]:
            g.append("critical")
            recs.append(
                _rec(
                    "critical",
                    "slow_p95",
                    row["name"],
                    {
                        "p95_seconds": row["p95_seconds"],
                        "sla_response_seconds": row["sla_response_seconds"],
                    },
                )
            )
        elif row["slow_periods"]:
            g.append("attention")
            recs.append(
                _rec(
                    "warning",
                    "slow_periods",
                    row["name"],
                    {"slow_periods": row["slow_periods"], "slow_seconds": row["slow_seconds"]},
                )
            )
        else:
            g.append("healthy")
    for row in s["performance"].get("traffic", []):
        if row["requests"] is None:
            continue
        ratio = row["error_5xx_ratio"] or 0.0
        slow = row["slow_request_ratio"] or 0.0
        if ratio >= HTTP_5XX_ATTENTION:
            critical = ratio >= HTTP_5XX_CRITICAL
            g.append("critical" if critical else "attention")
            recs.append(
                _rec(
                    "critical" if critical else "warning",
                    "http_errors",
                    row["name"],
                    {"error_5xx_ratio": ratio, "requests": row["requests"]},
                )
            )
        if slow >= SLOW_REQUESTS_ATTENTION:
            g.append("attention")
            recs.append(
                _rec(
                    "warning",
                    "slow_requests",
                    row["name"],
                    {"slow_request_ratio": slow, "p95_seconds": row["p95_seconds"]},
                )
            )
        g.append("healthy")
    for row in s["performance"]["databases"]:
        if row["deadlocks"]:
            g.append("attention")
            recs.append(_rec("warning", "deadlocks", row["name"], {"deadlocks": row["deadlocks"]}))
        elif row["commits_per_second"] is not None:
            g.append("healthy")
    return worst(g)


def _capacity(s: dict, recs: list) -> str:
    g = []
    for row in s["databases"]:
        if row["size_bytes_end"] is None and row["filesystem_free_bytes_end"] is None:
            continue
        days = row["days_until_full"]
        if days is not None and days < 30:
            g.append("critical")
        elif days is not None and days < 90:
            g.append("attention")
        else:
            g.append("healthy")
        if days is not None and days < 90:
            recs.append(
                _rec(
                    "critical" if days < 30 else "warning",
                    "disk_full_forecast",
                    row["name"],
                    {
                        "days_until_full": days,
                        "filesystem_growth_bytes_per_day": row["filesystem_growth_bytes_per_day"],
                        "filesystem_used_ratio_end": row["filesystem_used_ratio_end"],
                    },
                )
            )
        ratio = row["peak_connections_ratio"]
        if ratio is not None and ratio >= CONNECTIONS_ATTENTION:
            g.append("attention")
            recs.append(
                _rec(
                    "warning",
                    "connections_near_max",
                    row["name"],
                    {
                        "peak_connections": row["peak_connections"],
                        "max_connections": row["max_connections"],
                    },
                )
            )
    return worst(g)


def _backups(s: dict, recs: list) -> str:
    g = []
    for row in s["backups"]:
        if row["max_age_seconds"] is None:
            continue
        missing = row["days_in_period"] - (row["days_with_verified_success"] or 0)
        if row["max_age_seconds"] > 2 * DAY:
            g.append("critical")
            recs.append(
                _rec(
                    "critical",
                    "backup_stale",
                    row["name"],
                    {"max_age_seconds": row["max_age_seconds"]},
                )
            )
        elif missing > 0:
            g.append("attention")
        else:
            g.append("healthy")
        if missing > 0 and row["max_age_seconds"] <= 2 * DAY:
            recs.append(
                _rec(
                    "warning",
                    "backup_unverified_days",
                    row["name"],
                    {"days_without_verified_backup": missing},
                )
            )
        if row["days_verification_failed"]:
            g.append("attention")
            recs.append(
                _rec(
                    "warning",
                    "backup_verification_failed",
                    row["name"],
                    {"days_verification_failed": row["days_verification_failed"]},
                )
            )
    for row in s.get("wal_archiving", []):
        if row["failures"] is None:
            continue
        if row["failures"]:
            g.append("attention")
            recs.append(
                _rec(
                    "warning",
                    "wal_archive_failures",
                    row["name"],
                    {
                        "wal_archive_failures": row["failures"],
                        "days_with_failures": row["days_with_failures"],
                    },
                )
            )
        else:
            g.append("healthy")
    return worst(g)


def _exchange(s: dict, recs: list) -> str:
    g = []
    for row in s["exchange"]:
        if row["runs"] is None:
            continue
        if row["missed_deadlines"]:
            g.append("critical")
            recs.append(
                _rec(
                    "critical",
                    "exchange_missed_deadlines",
                    row["name"],
                    {"missed_deadlines": row["missed_deadlines"], "failures": row["failures"]},
                )
            )
        elif row["failures"]:
            g.append("attention")
            recs.append(
                _rec(
                    "warning",
                    "exchange_failures",
                    row["name"],
                    {"failures": row["failures"], "runs": row["runs"]},
                )
            )
        else:
            g.append("healthy")
    return worst(g)


def _logs(s: dict, recs: list) -> str:
    g = []
    for row in s["logs"]:
        if row["lines"] is None:
            continue
        g.append("attention" if row["lines"].get("error", 0) > 0 else "healthy")
    top = [r for r in s["logs"] if r["lines"] and r["lines"].get("error", 0) > 0][:1]
    for row in top:
        recs.append(_rec("info", "log_errors", row["name"], {"error_lines": row["lines"]["error"]}))
    return worst(g)


def grade_system(s: dict) -> tuple[dict, list[dict]]:
    """(grade per area, recommendations) for one analysed system (plain dict)."""
    grades: dict = {}
    recs: list[dict] = []
    grades["availability"] = _availability(s, recs)
    alerts = s["alerts"]
    sev = {a["severity"] for a in alerts}
    grades["stability"] = "critical" if "critical" in sev else "attention" if alerts else "healthy"
    for item in s["stability"]["noisiest"][:2]:
        if item["incidents"] >= 3:
            recs.append(
                _rec(
                    "warning",
                    "noisy_alert",
                    item["alertname"],
                    {"incidents": item["incidents"]},
                    item["alertname"],
                )
            )
    grades["performance"] = _performance(s, recs)
    grades["capacity"] = _capacity(s, recs)
    grades[GRADE_KEYS["backups"]] = _backups(s, recs)
    grades["exchange"] = _exchange(s, recs)
    grades["logs"] = _logs(s, recs)
    others = [g for area, g in grades.items() if area != "stability"]
    if not alerts and all(g == "no_data" for g in others):
        grades["stability"] = "no_data"  # nothing monitored: no alert is not a healthy sign
    order = {"critical": 0, "warning": 1, "info": 2}
    recs.sort(key=lambda r: order[r["severity"]])
    return grades, recs
