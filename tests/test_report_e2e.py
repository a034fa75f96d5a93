"""aftercare-report end to end: scripted history in a real Prometheus, figures checked
against expectations computed here from the same samples."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from devstack.history import History, steps
from devstack.prometheus import Prometheus

SH = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC
MIB, GIB = 2**20, 2**30
H_START = dt.datetime(2026, 9, 30, tzinfo=UTC).timestamp()
H_END = dt.datetime(2026, 11, 1, tzinfo=UTC).timestamp()
REPO = Path(__file__).resolve().parent.parent


def local(month, day, hour=0, minute=0, tz=SH) -> float:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=tz).timestamp()


def counter_points(times, events, start_value=0.0):
    """Counter samples at ``times`` counting the event timestamps at or before each."""
    events = sorted(events)
    out, i = [], 0
    for t in times:
        while i < len(events) and events[i] <= t:
            i += 1
        out.append((t, start_value + i))
    return out


def daily(hour, minute, first=(9, 29), last=(11, 2), tz=SH):
    """The local times hour:minute on each day from first to last (month, day) inclusive."""
    day = dt.date(2026, *first)
    out = []
    while day <= dt.date(2026, *last):
        out.append(dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).timestamp())
        day += dt.timedelta(days=1)
    return out


def stepwise(times, changes):
    """Gauge samples whose value is the latest of ``changes`` [(ts, value)] at each time."""
    changes = sorted(changes)
    out, i, current = [], -1, None
    for t in times:
        while i + 1 < len(changes) and changes[i + 1][0] <= t:
            i += 1
            current = changes[i][1]
        if current is not None:
            out.append((t, current))
    return out


ACCESS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0, 30.0)


def access_sample(t: float) -> tuple[dict, dict]:
    """Requests added in the 5 minutes up to ``t``: ({code class: n}, {seconds: n})."""
    classes = {"2xx": 100, "4xx": 3, "5xx": 2}
    times = {0.2: 94, 1.5: 9, 3.0: 2}
    if local(10, 14, 10) < t <= local(10, 14, 11):
        classes["2xx"] += 500
        times[0.2] += 500
    if local(10, 22, 15) < t <= local(10, 22, 15, 30):
        classes["5xx"] += 60
        times[3.0] += 60
    return classes, times


def add_access_log(h: History, five: list, facts: dict) -> None:
    totals = {"2xx": 0, "4xx": 0, "5xx": 0}
    below = {b: 0 for b in ACCESS_BUCKETS}
    count, total_seconds = 0, 0.0
    series: dict = {}
    for t in five:
        classes, times = access_sample(t)
        for cls, n in classes.items():
            totals[cls] += n
            series.setdefault(("req", cls), []).append((t, totals[cls]))
        for seconds, n in times.items():
            count += n
            total_seconds += seconds * n
            for bound in ACCESS_BUCKETS:
                if seconds <= bound:
                    below[bound] += n
        for bound in ACCESS_BUCKETS:
            series.setdefault(("le", repr(bound)), []).append((t, below[bound]))
        series.setdefault(("le", "+Inf"), []).append((t, count))
        series.setdefault(("sum",), []).append((t, total_seconds))
        series.setdefault(("count",), []).append((t, count))
    src = {"system": "alpha", "source": "web-access"}
    for key, points in series.items():
        if key[0] == "req":
            h.add("aftercare_http_requests_total", {**src, "code_class": key[1]}, points, "counter")
        elif key[0] == "le":
            h.add(
                "aftercare_http_request_duration_seconds_bucket",
                {**src, "le": key[1]},
                points,
                "histogram",
            )
        else:
            h.add(f"aftercare_http_request_duration_seconds_{key[0]}", src, points, "histogram")


def build_history() -> tuple[History, dict]:
    h = History()
    minute = steps(H_START, H_END, 60)
    five = steps(H_START, H_END, 300)
    facts: dict = {}

    # alpha/web: two outages, a 6 h gap without data, a slow period
    web_down = [(local(10, 5, 2), local(10, 5, 2, 30)), (local(10, 12, 10), local(10, 12, 10, 7))]
    gap = (local(10, 20), local(10, 20, 6))
    slow = (local(10, 15, 14), local(10, 15, 14, 20))
    up, resp = [], []
    for i, t in enumerate(minute):
        if gap[0] <= t < gap[1]:
            continue
        down = any(a <= t < b for a, b in web_down)
        up.append((t, 0.0 if down else 1.0))
        if not down:
            resp.append((t, 3.0 if slow[0] <= t < slow[1] else 0.2 + 0.01 * (i % 7)))
    h.add("aftercare_service_up", {"system": "alpha", "service": "web"}, up)
    h.add("aftercare_service_response_seconds", {"system": "alpha", "service": "web"}, resp)
    h.add("aftercare_service_up", {"system": "alpha", "service": "api"}, [(t, 1.0) for t in minute])
    h.add(
        "aftercare_service_response_seconds",
        {"system": "alpha", "service": "api"},
        [(t, 0.1 + 0.01 * (i % 5)) for i, t in enumerate(minute)],
    )
    cache_down = (local(10, 8, 9), local(10, 8, 9, 3))
    h.add(
        "aftercare_integration_up",
        {"system": "alpha", "integration": "cache"},
        [(t, 0.0 if cache_down[0] <= t < cache_down[1] else 1.0) for t in minute],
    )

    # alpha/pg: a growing database on a filling filesystem, three deadlocks
    db = {"system": "alpha", "database": "pg"}
    h.add("aftercare_database_up", db, [(t, 1.0) for t in minute])
    k = [(t, (t - H_START) / 300) for t in five]
    h.add(
        "aftercare_database_size_bytes",
        {**db, "datname": "app"},
        [(t, 10 * GIB + MIB * n) for t, n in k],
    )
    h.add(
        "aftercare_database_size_bytes", {**db, "datname": "postgres"}, [(t, 8 * MIB) for t in five]
    )
    # the filesystem fills twice as fast as the database grows (WAL, logs): its own trend counts
    h.add(
        "aftercare_database_filesystem_free_bytes", db, [(t, 100 * GIB - 2 * MIB * n) for t, n in k]
    )
    h.add("aftercare_database_filesystem_size_bytes", db, [(t, 200 * GIB) for t in five])
    h.add(
        "aftercare_database_connections",
        {**db, "state": "active"},
        [(t, 5 + int(n) % 10) for t, n in k],
    )
    h.add("aftercare_database_connections", {**db, "state": "idle"}, [(t, 3) for t in five])
    # tables: two growers, a constant one, "audit" enters the top N on Oct 16 as "legacy"
    # leaves it (both move between their own series and __other__)
    swap = local(10, 16)
    tables = {
        "public.orders": lambda t, n: 4 * GIB + MIB * n // 2,
        "public.events": lambda t, n: 2 * GIB + MIB * n // 4,
        "public.users": lambda t, n: 1 * GIB,
        "public.audit": lambda t, n: 1.5 * GIB + MIB * n // 8 if t >= swap else None,
        "public.legacy": lambda t, n: 0.5 * GIB if t < swap else None,
        "__other__": lambda t, n: 3 * GIB + (0.5 * GIB if t >= swap else 1.5 * GIB + MIB * n // 8),
    }
    for table, size in tables.items():
        h.add(
            "aftercare_database_table_size_bytes",
            {**db, "datname": "app", "table": table},
            [(t, size(t, n)) for t, n in k if size(t, n) is not None],
        )
    facts["table_swap"] = swap
    # WAL: a segment archived every 5 minutes; failures on Oct 7 (three) and Oct 19 (one), at noon
    wal_failures = [
        local(10, 7, 12, 2),
        local(10, 7, 12, 7),
        local(10, 7, 12, 31),
        local(10, 19, 12, 3),
    ]
    h.add("aftercare_database_wal_archived_total", db, [(t, n) for t, n in k], "counter")
    h.add(
        "aftercare_database_wal_archive_failures_total",
        db,
        counter_points(five, wal_failures),
        "counter",
    )
    facts["wal_failures"] = wal_failures
    h.add("aftercare_database_max_connections", db, [(t, 100) for t in five])
    deadlocks = [local(10, 3, 12), local(10, 17, 9), local(10, 28, 22)]
    h.add(
        "aftercare_database_deadlocks_total",
        {**db, "datname": "app"},
        counter_points(five, deadlocks),
        "counter",
    )
    h.add(
        "aftercare_database_commits_total",
        {**db, "datname": "app"},
        [(t, 3000 * n) for t, n in k],
        "counter",
    )

    # alpha/upload: daily at 02:10, failing on Oct 9 and 10 (one missed deadline)
    runs = daily(2, 10)
    fails = [
        t
        for t in runs
        if dt.datetime.fromtimestamp(t, SH).date() in (dt.date(2026, 10, 9), dt.date(2026, 10, 10))
    ]
    oks = [t for t in runs if t not in fails]
    ex = {"system": "alpha", "exchange": "upload"}
    h.add(
        "aftercare_exchange_runs_total",
        {**ex, "result": "success"},
        counter_points(five, oks),
        "counter",
    )
    h.add(
        "aftercare_exchange_runs_total",
        {**ex, "result": "failure"},
        counter_points(five, fails),
        "counter",
    )
    h.add(
        "aftercare_exchange_last_success_timestamp_seconds",
        ex,
        stepwise(five, [(t, t) for t in oks]),
    )
    h.add(
        "aftercare_exchange_deadline_timestamp_seconds",
        ex,
        stepwise(five, [(t, t - 10 * 60 + 86400 + 45 * 60) for t in oks]),
    )
    facts["alpha_runs"], facts["alpha_fails"] = runs, fails

    # alpha/nightly backup, verified, every day
    nightly = daily(1, 30)
    bk = {"system": "alpha", "backup": "nightly"}
    h.add(
        "aftercare_backup_last_success_timestamp_seconds",
        bk,
        stepwise(five, [(t, t) for t in nightly]),
    )
    # the Oct 12 backup fails its verification; the next one passes again
    unverified = (local(10, 12, 1, 30), local(10, 13, 1, 35))
    h.add(
        "aftercare_backup_verified",
        bk,
        [(t, 0.0 if unverified[0] <= t < unverified[1] else 1.0) for t in five],
    )
    h.add(
        "aftercare_backup_size_bytes",
        bk,
        stepwise(five, [(t, GIB + i * 10 * MIB) for i, t in enumerate(nightly)]),
    )

    # alpha/app log: an error every 10 minutes, two warnings
    tens = steps(H_START, H_END, 600)
    h.add(
        "aftercare_log_lines_total",
        {"system": "alpha", "source": "app", "level": "error"},
        counter_points(five, tens),
        "counter",
    )
    h.add(
        "aftercare_log_lines_total",
        {"system": "alpha", "source": "app", "level": "warning"},
        [(t, 2 * v) for t, v in counter_points(five, tens)],
        "counter",
    )
    # alpha/web-access: nginx access log; a busy hour on Oct 14, a burst of 5xx on Oct 22
    add_access_log(h, five, facts)
    h.add(
        "aftercare_scrape_collector_success",
        {"system": "alpha", "target": "pg", "collector": "size"},
        [(t, 1.0) for t in minute],
    )

    # alerts: the first outage's alert misses two evaluations (merged), the slow period's alert
    down_alert = {
        "alertname": "AftercareServiceDown",
        "system": "alpha",
        "service": "web",
        "severity": "critical",
    }
    a1 = [
        t
        for t in steps(local(10, 5, 2, 1), local(10, 5, 2, 30), 60)
        if t not in (local(10, 5, 2, 10), local(10, 5, 2, 11))
    ]
    a2 = steps(local(10, 12, 10, 2), local(10, 12, 10, 7), 60)
    h.add("ALERTS", {**down_alert, "alertstate": "firing"}, [(t, 1.0) for t in a1 + a2])
    h.add(
        "ALERTS_FOR_STATE",
        down_alert,
        [(t, local(10, 5, 2, 0)) for t in a1] + [(t, local(10, 12, 10, 1)) for t in a2],
    )
    slow_alert = {
        "alertname": "AftercareServiceSlow",
        "system": "alpha",
        "service": "web",
        "severity": "warning",
    }
    a3 = steps(local(10, 15, 14, 5), local(10, 15, 14, 20), 60)
    h.add("ALERTS", {**slow_alert, "alertstate": "firing"}, [(t, 1.0) for t in a3])
    h.add(
        "ALERTS",
        {"alertname": "Watchdog", "severity": "none", "alertstate": "firing"},
        [(t, 1.0) for t in minute],
    )
    facts["alerts"] = [
        ("AftercareServiceDown", "critical", a1[0], a1[-1]),
        ("AftercareServiceDown", "critical", a2[0], a2[-1]),
        ("AftercareServiceSlow", "warning", a3[0], a3[-1]),
    ]

    # beta: a 6 h outage (SLA missed), backups stop after Oct 20, a job failing from Oct 25
    portal_down = (local(10, 3, 8), local(10, 3, 14))
    h.add(
        "aftercare_service_up",
        {"system": "beta", "service": "portal"},
        [(t, 0.0 if portal_down[0] <= t < portal_down[1] else 1.0) for t in minute],
    )
    h.add(
        "aftercare_service_response_seconds",
        {"system": "beta", "service": "portal"},
        [(t, 0.3) for t in minute if not portal_down[0] <= t < portal_down[1]],
    )
    bb = {"system": "beta", "backup": "nightly"}
    beta_nightly = [t for t in daily(1, 30) if t <= local(10, 20, 1, 30)]
    h.add(
        "aftercare_backup_last_success_timestamp_seconds",
        bb,
        stepwise(five, [(t, t) for t in beta_nightly]),
    )
    h.add("aftercare_backup_verified", bb, [(t, 1.0) for t in five])
    h.add("aftercare_backup_size_bytes", bb, stepwise(five, [(t, GIB) for t in beta_nightly]))
    beta_runs = daily(3, 0)
    beta_fails = [t for t in beta_runs if t >= local(10, 25)]
    beta_oks = [t for t in beta_runs if t < local(10, 25)]
    bx = {"system": "beta", "exchange": "report"}
    h.add(
        "aftercare_exchange_runs_total",
        {**bx, "result": "success"},
        counter_points(five, beta_oks),
        "counter",
    )
    h.add(
        "aftercare_exchange_runs_total",
        {**bx, "result": "failure"},
        counter_points(five, beta_fails),
        "counter",
    )
    h.add(
        "aftercare_exchange_last_success_timestamp_seconds",
        bx,
        stepwise(five, [(t, t) for t in beta_oks]),
    )
    h.add(
        "aftercare_exchange_deadline_timestamp_seconds",
        bx,
        stepwise(five, [(t, t + 86400 + 45 * 60) for t in beta_oks]),
    )
    facts["beta_runs"], facts["beta_fails"] = beta_runs, beta_fails
    return h, facts


CONFIG = """
defaults: {{timezone: {tz}}}
systems:
  - name: alpha
    customer: Example Bank
    sla: {{availability: 0.999, response_time: 2s}}
    databases:
      - {{name: pg, type: postgresql, dsn: "postgresql://monitor@127.0.0.1:5432/postgres"}}
    services:
      - {{name: web, http: {{url: "http://127.0.0.1:1/health"}}}}
      - {{name: api, tcp: {{address: "127.0.0.1:2"}}}}
    logs:
      - {{source: app, path: /var/log/app/*.log}}
      - {{source: web-access, path: /var/log/nginx/access.log, format: combined}}
    integrations:
      - {{name: cache, redis: {{address: "127.0.0.1:6379"}}}}
    exchange:
      - {{name: upload, schedule: "0 2 * * *", max_duration: 30m}}
    backups:
      - {{name: nightly, path: "/backups/*.dump", schedule: "30 1 * * *"}}
  - name: beta
    customer: Example Bank
    services:
      - {{name: portal, http: {{url: "http://127.0.0.1:1/"}}}}
    exchange:
      - {{name: report, schedule: "0 3 * * *"}}
    backups:
      - {{name: nightly, path: "/backups/beta/*.dump"}}
  - name: ghost
    services:
      - {{name: ghost-web, tcp: {{address: "127.0.0.1:3"}}}}
"""


@pytest.fixture(scope="module")
def history():
    h, facts = build_history()
    prom = Prometheus(extra_args=["--storage.tsdb.retention.time=3650d"])
    try:
        h.backfill(str(prom.storage_path))
        prom.start()
        yield prom, h, facts
    finally:
        prom.close()


def run_report(prom_url, tmp_path: Path, tz: str, *args, timeout=120):
    config = tmp_path / "aftercare.yml"
    config.write_text(CONFIG.format(tz=tz))
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "reportgen.cli",
        "--prometheus",
        prom_url,
        "--config.file",
        str(config),
        "--out",
        str(out),
        *args,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    return result, out


# -- independent expectations ------------------------------------------------------------


def in_period(points, start, end):
    return [(t, v) for t, v in points if start <= t < end]


def expect_availability(points, start, end):
    pts = in_period(points, start, end)
    if not pts:
        return None
    downs = [t for t, v in pts if v == 0]
    runs, last = [], None
    for t in downs:
        if last is not None and t - last <= 60:
            runs[-1][1] = t
        else:
            runs.append([t, t])
        last = t
    return {
        "availability_ratio": sum(v for _, v in pts) / len(pts),
        "downtime_seconds": 60.0 * len(downs),
        "coverage_ratio": 60.0 * len(pts) / (end - start),
        "outages": len(runs),
        "longest_outage_seconds": max((b - a + 60 for a, b in runs), default=0.0),
    }


def sample_increments(points, start, end):
    """(t, added) for each counter sample in [start, end), from the sample before it."""
    return [
        (t1, v1 - v0 if v1 >= v0 else v1)
        for (t0, v0), (t1, v1) in zip(points, points[1:], strict=False)
        if start <= t1 < end
    ]


def last_before(points, limit):
    before = [v for t, v in points if t < limit]
    return before[-1] if before else None


def interpolated_quantile(q, cumulative):
    """The q-quantile of cumulative counts {bound: n} by linear interpolation in its bucket."""
    bounds = sorted(cumulative)
    rank = q * cumulative[bounds[-1]]
    lower, below = 0.0, 0
    for bound in bounds:
        if cumulative[bound] >= rank:
            return lower + (bound - lower) * (rank - below) / (cumulative[bound] - below)
        lower, below = bound, cumulative[bound]


def check_traffic(row, h, start, end, tz, sla=2.0):
    zone = ZoneInfo(tz)
    per_class = {
        c: sample_increments(
            h.get(
                "aftercare_http_requests_total", system="alpha", source="web-access", code_class=c
            ),
            start,
            end,
        )
        for c in ("2xx", "4xx", "5xx")
    }
    every = [x for points in per_class.values() for x in points]
    total = sum(n for _, n in every)
    assert row["requests"] == total
    assert row["by_code_class"] == {c: sum(n for _, n in p) for c, p in per_class.items()}
    assert row["error_5xx_ratio"] == pytest.approx(
        sum(n for _, n in per_class["5xx"]) / total, rel=1e-9
    )
    days: dict = {}
    for t, n in every:
        day = dt.datetime.fromtimestamp(t, zone).date().isoformat()
        days[day] = days.get(day, 0) + n
    assert {d["day"]: d["requests"] for d in row["daily"]} == days
    assert row["requests_per_day"] == pytest.approx(total / 31)
    hours: dict = {}
    for t, n in every:
        hour = start + (t - start) // 3600 * 3600
        hours[hour] = hours.get(hour, 0) + n
    peak = max(hours, key=hours.get)
    assert row["peak_hour"] == dt.datetime.fromtimestamp(peak, zone).isoformat()
    assert row["peak_hour_requests"] == hours[peak]
    assert row["busiest_hour_of_day"] == dt.datetime.fromtimestamp(local(10, 14, 10), zone).hour
    bounds = list(ACCESS_BUCKETS) + [float("inf")]
    cumulative = {
        b: sum(
            n
            for _, n in sample_increments(
                h.get(
                    "aftercare_http_request_duration_seconds_bucket",
                    system="alpha",
                    source="web-access",
                    le="+Inf" if b == float("inf") else repr(b),
                ),
                start,
                end,
            )
        )
        for b in bounds
    }
    assert row["timed_requests"] == cumulative[float("inf")] == total
    assert row["p50_seconds"] == pytest.approx(interpolated_quantile(0.5, cumulative), rel=1e-9)
    assert row["p95_seconds"] == pytest.approx(interpolated_quantile(0.95, cumulative), rel=1e-9)
    assert 0.1 < row["p50_seconds"] <= 0.25 and 1.0 < row["p95_seconds"] <= 2.0
    assert row["slow_request_ratio"] == pytest.approx(1 - cumulative[sla] / total, rel=1e-9)


def check_tables(pg, h, facts, start, end):
    day = 86400.0
    rows = {}
    for table in (
        "public.orders",
        "public.events",
        "public.users",
        "public.audit",
        "public.legacy",
        "__other__",
    ):
        pts = in_period(
            h.get(
                "aftercare_database_table_size_bytes",
                system="alpha",
                database="pg",
                datname="app",
                table=table,
            ),
            start,
            end,
        )
        first = last_before(pts, start + 3600)
        if first is None:  # entered the top N: from the end of its first reported day
            first_day_end = start + ((pts[0][0] - start) // day + 1) * day
            first = last_before(pts, first_day_end)
        last_day_start = start + ((end - 1 - start) // day) * day
        rows[table] = {
            "size_bytes_start": first,
            "size_bytes_end": pts[-1][1],
            "growth_bytes": pts[-1][1] - first,
            "partial": last_before(pts, start + 3600) is None or pts[-1][0] < last_day_start,
        }
    other = rows.pop("__other__")
    want = sorted(rows.items(), key=lambda kv: (-kv[1]["growth_bytes"], kv[0]))
    got = [
        (
            g["table"],
            {k: g[k] for k in ("size_bytes_start", "size_bytes_end", "growth_bytes", "partial")},
        )
        for g in pg["top_growers"]
    ]
    assert got == want
    assert [g["table"] for g in pg["top_growers"]][:3] == [
        "public.orders",
        "public.events",
        "public.audit",
    ]
    assert [g["partial"] for g in pg["top_growers"]] == [False, False, True, True, False]
    assert pg["other_tables"] == [
        {
            "datname": "app",
            "table": "__other__",
            **{k: other[k] for k in ("size_bytes_start", "size_bytes_end", "growth_bytes")},
        }
    ]
    assert (
        pg["tables_total_bytes_end"]
        == sum(r["size_bytes_end"] for t, r in rows.items() if t != "public.legacy")
        + other["size_bytes_end"]
    )
    orders = pg["top_growers"][0]
    assert orders["growth_bytes_per_day"] == pytest.approx(MIB * 288 / 2, rel=0.01)


def check_period(report, h, facts, start, end, tz):
    systems = {s["name"]: s for s in report["systems"]}
    assert list(systems) == ["alpha", "beta", "ghost"]
    assert report["period"]["days"] == 31

    for system, kind, name in [
        ("alpha", "services", "web"),
        ("alpha", "services", "api"),
        ("beta", "services", "portal"),
        ("alpha", "integrations", "cache"),
        ("alpha", "databases", "pg"),
    ]:
        metric = {
            "services": "aftercare_service_up",
            "integrations": "aftercare_integration_up",
            "databases": "aftercare_database_up",
        }[kind]
        label = {"services": "service", "integrations": "integration", "databases": "database"}[
            kind
        ]
        expected = expect_availability(h.get(metric, system=system, **{label: name}), start, end)
        row = next(r for r in systems[system][kind] if r["name"] == name)
        assert row["availability_ratio"] == pytest.approx(
            expected["availability_ratio"], abs=1e-4
        ), name
        assert abs(row["downtime_seconds"] - expected["downtime_seconds"]) <= 60, name
        assert row["coverage_ratio"] == pytest.approx(expected["coverage_ratio"], abs=1e-4), name
        assert row["outages"] == expected["outages"], name
        assert abs(row["longest_outage_seconds"] - expected["longest_outage_seconds"]) <= 60, name

    web = systems["alpha"]["services"][0]
    assert web["outages"] == 2 and web["coverage_ratio"] < 0.995  # the 6 h gap is not "up"

    # capacity: last samples before the end; growth 1 MiB per 5 min
    pg = systems["alpha"]["databases"][0]
    size_end = sum(
        in_period(
            h.get("aftercare_database_size_bytes", system="alpha", database="pg", datname=d),
            start,
            end,
        )[-1][1]
        for d in ("app", "postgres")
    )
    assert pg["size_bytes_end"] == size_end
    free_pts = in_period(
        h.get("aftercare_database_filesystem_free_bytes", system="alpha", database="pg"), start, end
    )
    free_end = free_pts[-1][1]
    # forecast from the filesystem's own trend (2 MiB / 5 min), not the database's (1 MiB / 5 min)
    assert pg["filesystem_growth_bytes_per_day"] == pytest.approx(2 * MIB * 288, rel=1e-9)
    assert pg["days_until_full"] == pytest.approx(free_end / (2 * MIB * 288), rel=1e-6)
    assert pg["days_until_full_by_database_growth"] == pytest.approx(
        free_end / (MIB * 288), rel=1e-6
    )
    assert pg["filesystem_used_ratio_end"] == pytest.approx(1 - free_end / (200 * GIB), rel=1e-12)
    assert pg["filesystem_used_ratio_start"] == pytest.approx(
        1 - last_before(free_pts, start + 3600) / (200 * GIB), rel=1e-12
    )
    assert pg["peak_connections"] == 17 and pg["max_connections"] == 100  # active + idle
    assert pg["peak_connections_ratio"] == pytest.approx(0.17)
    check_tables(pg, h, facts, start, end)
    check_traffic(systems["alpha"]["performance"]["traffic"][0], h, start, end, tz)
    assert [s["name"] for s in systems["alpha"]["logs"]] == ["app"]  # the access log is traffic

    # WAL archiving: failures per local day
    wal = systems["alpha"]["wal_archiving"][0]
    zone = ZoneInfo(tz)
    failures = [t for t in facts["wal_failures"] if start <= t < end]
    fail_days = {}
    for t in failures:
        d = dt.datetime.fromtimestamp(t, zone).date().isoformat()
        fail_days[d] = fail_days.get(d, 0) + 1
    assert wal["failures"] == len(failures) == 4
    assert wal["days_with_failures"] == len(fail_days) == 2
    assert {d["day"]: d["failures"] for d in wal["daily"] if d["failures"]} == fail_days
    assert wal["archived"] == len(
        sample_increments(
            h.get("aftercare_database_wal_archived_total", system="alpha", database="pg"),
            start,
            end,
        )
    )
    assert systems["alpha"]["performance"]["databases"][0]["wal_archive_failures"] == 4
    assert systems["beta"]["wal_archiving"] == []

    # exchange
    upload = systems["alpha"]["exchange"][0]
    assert upload["runs"] == len([t for t in facts["alpha_runs"] if start <= t < end])
    assert upload["failures"] == len([t for t in facts["alpha_fails"] if start <= t < end]) == 2
    assert upload["missed_deadlines"] == 1
    report_job = systems["beta"]["exchange"][0]
    assert report_job["failures"] == len([t for t in facts["beta_fails"] if start <= t < end])
    assert report_job["missed_deadlines"] == 1

    # backups: max age over the samples of the period
    for system in ("alpha", "beta"):
        pts = in_period(
            h.get(
                "aftercare_backup_last_success_timestamp_seconds", system=system, backup="nightly"
            ),
            start,
            end,
        )
        row = systems[system]["backups"][0]
        # age at each minute: a 5-minute sample stays current for the next four minutes
        assert abs(row["max_age_seconds"] - max(min(t + 240, end - 60) - v for t, v in pts)) <= 60
        verified = h.get("aftercare_backup_verified", system=system, backup="nightly")
        made = sorted({v for _, v in pts if start <= v < end})
        days = {dt.datetime.fromtimestamp(v, ZoneInfo(tz)).date() for v in made}
        good = {
            dt.datetime.fromtimestamp(v, ZoneInfo(tz)).date()
            for i, v in enumerate(made)
            if any(
                x == 1 for t, x in verified if v <= t < (made[i + 1] if i + 1 < len(made) else end)
            )
        }
        failed = {
            dt.datetime.fromtimestamp(t, ZoneInfo(tz)).date().isoformat()
            for t, x in in_period(verified, start, end)
            if x == 0
        }
        assert row["days_with_success"] == len(days)
        assert row["days_with_verified_success"] == len(good)
        assert row["days_verification_failed"] == len(failed)
        assert {d["day"] for d in row["daily"] if d["verification_failed"]} == failed
        assert len(row["daily"]) == 31
    alpha_backup = systems["alpha"]["backups"][0]
    assert alpha_backup["days_with_verified_success"] == alpha_backup["days_with_success"] - 1
    assert alpha_backup["days_verification_failed"] == 2
    assert systems["beta"]["backups"][0]["max_age_seconds"] > 10 * 86400

    # alerts: merged across the evaluation gap, in order
    got = [
        (a["alertname"], a["severity"], a["started"], a["ended"])
        for a in systems["alpha"]["alerts"]
    ]
    want = [
        (
            n,
            s,
            dt.datetime.fromtimestamp(a, ZoneInfo(tz)).isoformat(),
            dt.datetime.fromtimestamp(b, ZoneInfo(tz)).isoformat(),
        )
        for n, s, a, b in facts["alerts"]
        if start <= a < end
    ]
    assert got == want
    assert (
        systems["alpha"]["alerts"][0]["active_since"]
        == dt.datetime.fromtimestamp(local(10, 5, 2), ZoneInfo(tz)).isoformat()
    )

    # grades: alpha misses its SLA by the contract (37 min down + 20 min slow > 0.1 % of the
    # month) though plain availability meets it; critical by its critical alert; beta misses it
    assert web["sla_met_plain"] is True and web["sla_met"] is False
    assert systems["alpha"]["area_grades"]["availability"] == "critical"
    assert systems["alpha"]["grade"] == "critical"
    assert (
        systems["beta"]["sla_met"] is False
        and systems["beta"]["area_grades"]["availability"] == "critical"
    )
    assert systems["beta"]["area_grades"]["protection"] == "critical"
    assert systems["ghost"]["grade"] == "no_data"
    assert systems["ghost"]["services"][0]["availability_ratio"] is None
    assert systems["ghost"]["services"][0]["coverage_ratio"] == 0.0
    assert report["overall"]["grade"] == "critical"
    for rec in report["overall"]["top_actions"]:
        assert rec["evidence"] and rec["severity"] == "critical"


def test_month_in_shanghai(history, tmp_path):
    prom, h, facts = history
    result, out = run_report(
        prom.url,
        tmp_path,
        "Asia/Shanghai",
        "--period",
        "2026-10",
        "--format",
        "json,md,html",
        "--lang",
        "en",
    )
    assert result.returncode == 0, result.stderr
    files = sorted(p.name for p in out.iterdir())
    assert files == [
        "aftercare-report-2026-10-en.html",
        "aftercare-report-2026-10-en.json",
        "aftercare-report-2026-10-en.md",
    ]
    report = json.loads((out / files[1]).read_text())
    check_period(report, h, facts, local(10, 1), local(11, 1), "Asia/Shanghai")
    assert report["period"]["from"] == "2026-10-01T00:00:00+08:00"
    # the web availability is below 100 % and the p95 saw the slow period
    perf = report["systems"][0]["performance"]["services"][0]
    assert perf["slow_periods"] == 1 and perf["slow_seconds"] == 20 * 60
    assert 0.2 <= perf["p50_seconds"] <= 0.26
    logs = report["systems"][0]["logs"][0]
    assert logs["lines"] == {"error": 31 * 144, "warning": 2 * 31 * 144}
    # queries grow with areas, not series: the same count for one system (below) as for three
    assert report["method"]["query_count"] == QUERIES_WITH_PREVIOUS
    check_month_over_month(report, h)
    md = (out / files[2]).read_text()
    assert "| web (Services) |" in md and "no data" in md
    html = (out / files[0]).read_text()
    assert "<svg" in html
    # severity words come from the catalogue; every runbook link points at an existing runbook
    assert "Incidents: 3, critical 2, warning 1" in html
    links = re.findall(r'href="([^"]*runbooks[^"]*)"', html) + re.findall(
        r"\]\(([^)]*runbooks[^)]*)\)", md
    )
    links += [r["runbook"] for s in report["systems"] for r in s["recommendations"] + s["alerts"]]
    assert len(links) > 10
    for link in links:
        assert link.startswith("docs/runbooks/") and link.endswith(".md"), link
        assert (REPO / link).is_file(), link


# per period (this month and the previous): 5 of them for the slow statements (the month,
# per day) and the top statements (time, calls, text)
QUERIES_WITH_PREVIOUS = 111


def check_month_over_month(report, h):
    """The previous month (September, Shanghai) has data only from Sep 30 08:00 local."""
    alpha = report["systems"][0]
    previous = alpha["previous"]
    assert previous["period"] == "2026-09"
    assert set(previous["areas"]) == {
        "availability",
        "stability",
        "performance",
        "capacity",
        "protection",
        "exchange",
        "logs",
    }
    rows = {
        (area, r["target"], r["figure"]): r for area, rs in previous["areas"].items() for r in rs
    }
    web_before = expect_availability(
        h.get("aftercare_service_up", system="alpha", service="web"), local(9, 1), local(10, 1)
    )
    web = rows[("availability", "web", "availability_ratio")]
    assert web["previous"] == pytest.approx(web_before["availability_ratio"], abs=1e-9) == 1.0
    assert web["current"] == alpha["services"][0]["availability_ratio"]
    assert web["change"] == pytest.approx(web["current"] - web["previous"])
    incidents = rows[("stability", "", "incidents")]
    assert (incidents["previous"], incidents["current"], incidents["change"]) == (0, 3, 3)
    size = rows[("capacity", "pg", "size_bytes_end")]
    sept_sizes = sum(
        in_period(
            h.get("aftercare_database_size_bytes", system="alpha", database="pg", datname=d),
            local(9, 1),
            local(10, 1),
        )[-1][1]
        for d in ("app", "postgres")
    )
    assert (
        size["previous"] == sept_sizes
        and size["current"] == alpha["databases"][0]["size_bytes_end"]
    )
    assert rows[("exchange", "upload", "failures")]["previous"] == 0
    assert rows[("exchange", "upload", "failures")]["current"] == 2
    assert rows[("protection", "pg", "wal_archive_failures")]["previous"] == 0
    assert rows[("performance", "web-access", "requests")]["previous"] > 0
    beta = report["systems"][1]["previous"]
    assert "stability" in beta["areas"] and "capacity" not in beta["areas"]
    assert report["systems"][2]["previous"] is None  # ghost: no data either month


def test_month_in_utc(history, tmp_path):
    prom, h, facts = history
    result, out = run_report(
        prom.url,
        tmp_path,
        "UTC",
        "--period",
        "2026-10",
        "--format",
        "json",
        "--lang",
        "zh",
        "--no-previous",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(next(out.iterdir()).read_text())
    start = dt.datetime(2026, 10, 1, tzinfo=UTC).timestamp()
    check_period(report, h, facts, start, start + 31 * 86400, "UTC")


def test_from_to_dates_limit_to_one_system(history, tmp_path):
    prom, h, _ = history
    result, out = run_report(
        prom.url,
        tmp_path,
        "Asia/Shanghai",
        "--from",
        "2026-10-03",
        "--to",
        "2026-10-03",
        "--system",
        "beta",
        "--format",
        "json",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    report = json.loads(next(out.iterdir()).read_text())
    assert [s["name"] for s in report["systems"]] == ["beta"]
    portal = report["systems"][0]["services"][0]
    assert portal["availability_ratio"] == pytest.approx(1 - 360 / 1440, abs=1e-4)
    assert portal["downtime_seconds"] == pytest.approx(6 * 3600, abs=60)
    assert portal["outages"] == 1
    # one system instead of three: the same queries, except p50/p95 for 1 week instead of 5
    assert report["method"]["query_count"] == QUERIES_WITH_PREVIOUS - 2 * 4


def test_times_off_the_bucket_grid_keep_the_last_partial_bucket(history, tmp_path):
    """--from/--to at 07:00 and 14:07: the last 7 minutes (after the outage) still count."""
    prom, h, _ = history
    start, end = local(10, 3, 7), local(10, 3, 14, 7)
    result, out = run_report(
        prom.url,
        tmp_path,
        "Asia/Shanghai",
        "--from",
        "2026-10-03T07:00:00",
        "--to",
        "2026-10-03T14:07:00+08:00",
        "--system",
        "beta",
        "--format",
        "json",
        "--quiet",
        "--no-previous",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(next(out.iterdir()).read_text())
    portal = report["systems"][0]["services"][0]
    expected = expect_availability(
        h.get("aftercare_service_up", system="beta", service="portal"), start, end
    )
    assert expected["availability_ratio"] == pytest.approx(67 / 427)
    assert portal["availability_ratio"] == pytest.approx(expected["availability_ratio"], abs=1e-9)
    assert portal["coverage_ratio"] == pytest.approx(1.0, abs=1e-9)
    assert portal["downtime_seconds"] == pytest.approx(360 * 60)
    assert portal["daily"] == [{"day": "2026-10-03", "availability_ratio": pytest.approx(67 / 427)}]


def test_prometheus_going_away_mid_run_exits_3_and_writes_nothing(tmp_path):
    with Prometheus(extra_args=["--storage.tsdb.retention.time=3650d"]) as prom:
        config = tmp_path / "aftercare.yml"
        config.write_text(CONFIG.format(tz="UTC"))
        out = tmp_path / "out"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reportgen.cli",
                "--prometheus",
                prom.url,
                "--config.file",
                str(config),
                "--period",
                "2026-10",
                "--out",
                str(out),
                "--retries",
                "2",
            ],
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        first = proc.stderr.readline()
        assert re.search(r"\[1/\d\] .* done", first), first
        prom.stop()
        stderr = proc.stderr.read()
        assert proc.wait(timeout=60) == 3, stderr
    assert "Prometheus" in stderr and "Traceback" not in stderr
    assert not out.exists() or not list(out.iterdir())


def test_bad_arguments_and_config_exit_2(tmp_path):
    config = tmp_path / "aftercare.yml"
    config.write_text(CONFIG.format(tz="UTC"))
    base = [
        sys.executable,
        "-m",
        "reportgen.cli",
        "--prometheus",
        "http://127.0.0.1:9",
        "--out",
        str(tmp_path / "out"),
    ]
    cases = [
        (["--config.file", str(config), "--period", "2026-13"], "YYYY-MM"),
        (["--config.file", str(config), "--format", "html,xlsx"], "--format"),
        (["--config.file", str(config), "--system", "nope"], "nope"),
        (["--config.file", str(config), "--from", "2026-10-05", "--to", "2026-10-01"], "not after"),
        (["--config.file", str(tmp_path / "missing.yml")], "missing.yml"),
        (["--config.file", str(config), "--lang", "fr"], "--lang"),
        (["--config.file", str(config), "--prometheus", "localhost:9090"], "http://"),
    ]
    for args, needle in cases:
        result = subprocess.run(base + args, capture_output=True, text=True, cwd=REPO, timeout=30)
        assert result.returncode == 2, (args, result.stderr)
        assert needle in result.stderr and "Traceback" not in result.stderr
    unreachable = subprocess.run(
        base + ["--config.file", str(config), "--period", "2026-10", "--retries", "1"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=30,
    )
    assert unreachable.returncode == 3 and "cannot reach" in unreachable.stderr
