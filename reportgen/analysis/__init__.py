"""Run every area's analysis and assemble the report document (plain data)."""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from zoneinfo import ZoneInfo

from exporters.areas import REPORT_SECTIONS

from .. import runbooks
from . import (
    assessment,
    availability,
    backups,
    capacity,
    checklist,
    comparison,
    contract,
    exchange,
    hosts,
    incidents,
    logs,
    monitoring,
    performance,
    stability,
)
from .common import BUCKET, MERGE_TOLERANCE, STEP, Context, episodes, worst
from .summary import grade_system

AREAS = tuple(s.grade_key for s in REPORT_SECTIONS)
"""The sections' keys in the report JSON (``area_grades``), in the report's order."""


def iso(ts: float | None, tz: str) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, ZoneInfo(tz)).isoformat(timespec="seconds")


def _alert_row(a: dict, tz: str) -> dict:
    return {
        **a,
        "name": a["alertname"],
        "started": iso(a["started"], tz),
        "ended": None if a["ongoing"] else iso(a["ended"], tz),
        "started_ts": a["started"],
        "ended_ts": a["ended"],
        "active_since": iso(a["active_since"], tz),
        "runbook": runbooks.for_alert(a["alertname"]),
    }


def analyse_group(ctx: Context, with_previous: bool = True) -> tuple[list[dict], dict]:
    """Analyse the systems of one time zone over their period; ([system docs], monitoring)."""
    steps = [
        ("availability", lambda: {k: availability.analyse(ctx, k) for k in availability.KINDS}),
        ("stability", lambda: stability.analyse(ctx)),
        ("performance", lambda: performance.analyse(ctx)),
        ("capacity", lambda: capacity.analyse(ctx)),
        ("backups", lambda: backups.analyse(ctx)),
        ("exchange", lambda: exchange.analyse(ctx)),
        ("logs", lambda: logs.analyse(ctx)),
        (
            "hosts",
            lambda: hosts.analyse(ctx) if not ctx.lean else {s.name: [] for s in ctx.systems},
        ),
    ]
    if not ctx.lean:
        steps.append(("monitoring", lambda: monitoring.analyse(ctx)))
    results = run_concurrently(ctx, steps)
    docs = _system_docs(ctx, results)
    if with_previous and not ctx.lean:
        prev_ctx = Context(
            ctx.client,
            ctx.period.previous(),
            ctx.systems,
            ctx.progress,
            lean=True,
            workers=ctx.workers,
        )
        before, _ = analyse_group(prev_ctx, with_previous=False)
        for doc, old in zip(docs, before, strict=True):
            doc["previous"] = comparison.compare(doc, old, prev_ctx.period.label)
    if ctx.lean:
        return docs, {}
    mon = dict(results["monitoring"])
    mon.pop("collectors")
    mon["stack_alerts"] = [_alert_row(a, ctx.period.tz) for a in results["stability"][1]]
    return docs, mon


def run_concurrently(ctx: Context, steps: list) -> dict:
    """Run the areas' analyses on ``ctx.workers`` threads; a failure is raised after all end."""
    results, total = {}, len(steps)
    prefix = "previous period: " if ctx.lean else ""
    started = time.monotonic()
    with ThreadPoolExecutor(ctx.workers, thread_name_prefix="area") as pool:
        futures = {pool.submit(run): name for name, run in steps}
        for done, future in enumerate(as_completed(futures), 1):
            name = futures[future]
            results[name] = future.result()
            ctx.say(
                f"[{done}/{total}] {prefix}{name} done ({ctx.period.tz}, {len(ctx.systems)} "
                f"systems, {time.monotonic() - started:.1f}s)"
            )
    return results


def _system_docs(ctx: Context, results: dict) -> list[dict]:
    """One document per system from the per-area results (plain data)."""
    tz = ctx.period.tz
    docs = []
    per_alerts, _ = results["stability"]
    for system in ctx.systems:
        name = system.name
        dbs = []
        for avail, cap in zip(
            results["availability"]["databases"][name], results["capacity"][name], strict=True
        ):
            dbs.append({**avail, **cap})
        doc = {
            "name": name,
            "customer": system.customer,
            "timezone": tz,
            "period": {
                "from": ctx.period.start.isoformat(),
                "to": ctx.period.end.isoformat(),
                "days": len(ctx.period.days()),
                "label": ctx.period.label,
            },
            "sla": {
                "availability": system.sla.availability,
                "response_time_seconds": system.sla.response_time,
            },
            "services": results["availability"]["services"][name],
            "integrations": results["availability"]["integrations"][name],
            "databases": dbs,
            "exchange": results["exchange"][name],
            "backups": results["backups"][name]["backups"],
            "wal_archiving": results["backups"][name]["wal_archiving"],
            "logs": results["logs"][name],
            "hosts": results["hosts"][name],
            "alerts": [_alert_row(a, tz) for a in per_alerts[name]],
            "stability": None,
            "performance": results["performance"][name],
            "previous": None,
        }
        slow = _contract_availability(system, ctx.period, doc)
        doc["incidents"] = _incidents(name, per_alerts[name], slow, tz)
        doc["stability"] = stability.summarise(doc["incidents"])
        if "monitoring" in results:
            doc["monitoring"] = {"collectors": results["monitoring"]["collectors"][name]}
        covered = [
            r["coverage_ratio"]
            for k in ("services", "integrations", "databases")
            for r in doc[k]
            if "coverage_ratio" in r
        ]
        doc["coverage_ratio"] = (sum(covered) / len(covered)) if covered else None
        rated = [r for r in doc["services"] if r["sla_met"] is not None]
        doc["sla_met"] = all(r["sla_met"] for r in rated) if rated else None
        doc["area_grades"], doc["recommendations"] = grade_system(doc)
        doc["grade"] = worst(list(doc["area_grades"].values()))
        doc["has_data"] = doc["grade"] != "no_data"
        if not ctx.lean:
            doc["checklist"] = checklist.build(doc, ctx.period)
            doc["assessment"] = assessment.assess(doc)
        docs.append(doc)
    return docs


def _contract_availability(system, period, doc: dict) -> dict[str, list]:
    """Add the contract figures to the services and integrations; judge the SLA on them."""
    clock = contract.ContractClock(system, period)
    slow_runs: dict[str, list] = {}
    slow = {r["name"]: r.pop("_slow", None) for r in doc["performance"]["services"]}
    doc["maintenance"] = [
        {
            **w,
            "from": iso(w["from"], period.tz),
            "to": iso(w["to"], period.tz),
            "from_ts": w["from"],
            "to_ts": w["to"],
        }
        for w in clock.windows
    ]
    doc["sla"].update({"slow_is_fault": system.sla.slow_is_fault, "hours": system.sla.hours})
    doc["contract"] = (
        None
        if system.contract is None
        else {"number": system.contract.number, "service_period": system.contract.service_period}
    )
    for kind in ("services", "integrations", "databases"):
        for row in doc[kind]:
            raw = row.pop("_raw", None)
            if raw is None or kind == "databases":
                continue
            figures = contract.contract_figures(
                raw["counts"],
                row["sample_interval_seconds"],
                raw["down"],
                slow.get(row["name"]) if kind == "services" else None,
                clock,
            )
            row.update(figures)
            if kind == "services" and slow.get(row["name"]):
                slow_runs[row["name"]] = [
                    (a, b + STEP) for a, b in episodes(slow[row["name"]], STEP)
                ]
            ratio = figures["contract_availability_ratio"]
            if row["sla_target"] is not None and ratio is not None:
                row["sla_met"] = ratio >= row["sla_target"]
                row["sla_met_plain"] = row["availability_ratio"] >= row["sla_target"]
    return slow_runs


TARGET_LABELS = ("service", "database", "integration", "exchange", "backup", "source", "target")


def _incidents(system: str, alerts: list[dict], slow_runs: dict, tz: str) -> list[dict]:
    """The alerts folded by the inhibit rules, plus slow periods no alert covers (plain data)."""
    measured = [
        i
        for service, runs in slow_runs.items()
        for i in incidents.slow_incidents(system, service, runs, alerts)
    ]
    rows = incidents.fold(sorted(alerts + measured, key=lambda a: (a["started"], a["alertname"])))

    def row(a: dict) -> dict:
        return {
            "alertname": a["alertname"],
            "severity": a["severity"],
            "labels": a["labels"],
            "target": next((a["labels"][k] for k in TARGET_LABELS if k in a["labels"]), None),
            "started": iso(a["started"], tz),
            "ended": None if a["ongoing"] else iso(a["ended"], tz),
            "started_ts": a["started"],
            "ended_ts": None if a["ongoing"] else a["ended"],
            "ongoing": a["ongoing"],
            "duration_seconds": a["duration_seconds"],
            "measured": a.get("measured", False),
        }

    return [
        {
            **row(a),
            "folded": [row(f) for f in a["folded"]],
            "runbook": runbooks.for_alert(a["alertname"]),
        }
        for a in rows
    ]


def build_report(
    client, config, groups: list[tuple], progress=None, with_previous=True, workers: int = 4
) -> dict:
    """groups: [(Period, [System])] - one per time zone. Returns the report document."""
    systems, monitors = [], []
    for period, members in groups:
        ctx = Context(client, period, members, progress, workers=workers)
        docs, mon = analyse_group(ctx, with_previous)
        systems.extend(docs)
        monitors.append(mon)
    order = {s.name: i for i, s in enumerate(config.systems)}
    systems.sort(key=lambda d: order[d["name"]])
    recs = [dict(r, system=s["name"]) for s in systems for r in s["recommendations"]]
    rank = {"critical": 0, "warning": 1, "info": 2}
    recs.sort(key=lambda r: rank[r["severity"]])
    period, _ = groups[0]
    overall = {
        "grade": worst([s["grade"] for s in systems]),
        "area_grades": {a: worst([s["area_grades"][a] for s in systems]) for a in AREAS},
        "sla_met": (
            all(s["sla_met"] for s in systems if s["sla_met"] is not None)
            if any(s["sla_met"] is not None for s in systems)
            else None
        ),
        "top_actions": recs[:3],
        "systems": len(systems),
        "assessment": assessment.assess_overall(systems),
    }
    coverage = [s["coverage_ratio"] for s in systems if s["coverage_ratio"] is not None]
    return {
        "generator": "aftercare-report",
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "period": {
            "label": period.label,
            "from": period.start.isoformat(),
            "to": period.end.isoformat(),
            "timezone": period.tz,
            "days": len(period.days()),
        },
        "customers": sorted({s["customer"] for s in systems if s["customer"]}),
        "coverage_ratio": (sum(coverage) / len(coverage)) if coverage else None,
        "overall": overall,
        "systems": systems,
        "monitoring": {
            "watchdog_coverage_ratio": monitors[0]["watchdog_coverage_ratio"],
            "scrape_jobs": monitors[0]["scrape_jobs"],
            "stack_alerts": [a for m in monitors for a in m["stack_alerts"]],
        },
        "method": {
            "prometheus": client.shown,
            "bucket_seconds": BUCKET,
            "episode_step_seconds": STEP,
            "alert_merge_tolerance_seconds": MERGE_TOLERANCE,
            "forecast": capacity.METHOD,
            "queries": client.log.expressions(),
            "query_count": len(client.log.records),
            "query_server_seconds": client.log.server_seconds,
            "slowest_queries": [
                {"expr": r.expr, "seconds": r.seconds}
                for r in sorted(client.log.records, key=lambda r: -r.seconds)[:5]
            ],
        },
    }
