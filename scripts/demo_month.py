"""make demo-month: a realistic month of the demo system backfilled into a throwaway
Prometheus, and that month's health report in Chinese and English (HTML, PDF, JSON).

The month (default: the previous calendar month, Asia/Shanghai) holds one
12-minute outage of the web service, a slow afternoon, two deadlocks, a
failed data-exchange run, nightly verified backups and a growing database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from devstack.history import History, steps
from devstack.prometheus import Prometheus

REPO = Path(__file__).resolve().parents[1]
TZ = ZoneInfo("Asia/Shanghai")
SYSTEM = "demo"
GIB, MIB = 2**30, 2**20


def say(text: str) -> None:
    print(f"[demo-month {time.strftime('%H:%M:%S')}] {text}", flush=True)


def previous_month(today: dt.date) -> str:
    first = today.replace(day=1) - dt.timedelta(days=1)
    return f"{first.year}-{first.month:02d}"


def month_bounds(period: str) -> tuple[float, float]:
    year, month = map(int, period.split("-"))
    start = dt.datetime(year, month, 1, tzinfo=TZ)
    end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=TZ)
    return start.timestamp(), end.timestamp()


def at(start: float, day: int, hour: int, minute: int = 0) -> float:
    """Local time on the given day of the month that starts at start."""
    first = dt.datetime.fromtimestamp(start, TZ)
    return first.replace(day=day, hour=hour, minute=minute).timestamp()


def counter(
    times: list[float], events: list[float], per_event: float = 1.0
) -> list[tuple[float, float]]:
    """A counter sampled at times, stepping by per_event at each event."""
    events, out, seen = sorted(events), [], 0
    for t in times:
        while seen < len(events) and events[seen] <= t:
            seen += 1
        out.append((t, seen * per_event))
    return out


def latest(times: list[float], changes: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """A gauge holding the latest of changes [(when, value)] at each time (none before the
    first)."""
    changes, out, i = sorted(changes), [], -1
    for t in times:
        while i + 1 < len(changes) and changes[i + 1][0] <= t:
            i += 1
        if i >= 0:
            out.append((t, changes[i][1]))
    return out


def daily(start: float, end: float, hour: int, minute: int) -> list[float]:
    """hour:minute local on every day from the day before start to end."""
    day = dt.datetime.fromtimestamp(start, TZ).date() - dt.timedelta(days=1)
    out = []
    while True:
        t = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ).timestamp()
        if t >= end:
            return out
        out.append(t)
        day += dt.timedelta(days=1)


def month_history(start: float, end: float) -> History:
    """The demo system's month: every area, with the incidents described in the docstring."""
    h = History()
    lead = start - 86400  # one day before: counters and ages start right
    minute, five = steps(lead, end + 3600, 60), steps(lead, end + 3600, 300)
    outage = (at(start, 9, 3, 10), at(start, 9, 3, 22))
    slow = (at(start, 17, 14), at(start, 17, 14, 40))

    def diurnal(t: float) -> float:
        hour = dt.datetime.fromtimestamp(t, TZ).hour
        return 0.5 + 0.5 * math.sin((hour - 8) / 24 * 2 * math.pi)

    web, slow_svc = (
        {"system": SYSTEM, "service": "demo-web"},
        {"system": SYSTEM, "service": "demo-slow"},
    )
    h.add(
        "aftercare_service_up",
        web,
        [(t, 0.0 if outage[0] <= t < outage[1] else 1.0) for t in minute],
    )
    h.add(
        "aftercare_service_response_seconds",
        web,
        [
            (t, 0.04 + 0.12 * diurnal(t) + 0.01 * (i % 5))
            for i, t in enumerate(minute)
            if not outage[0] <= t < outage[1]
        ],
    )
    h.add("aftercare_service_up", slow_svc, [(t, 1.0) for t in minute])
    h.add(
        "aftercare_service_response_seconds",
        slow_svc,
        [
            (t, 2.6 if slow[0] <= t < slow[1] else 1.2 + 0.05 * (i % 3))
            for i, t in enumerate(minute)
        ],
    )
    h.add(
        "aftercare_integration_up",
        {"system": SYSTEM, "integration": "demo-app-port"},
        [(t, 0.0 if outage[0] <= t < outage[1] else 1.0) for t in minute],
    )
    h.add(
        "aftercare_integration_latency_seconds",
        {"system": SYSTEM, "integration": "demo-app-port"},
        [(t, 0.0004) for t in five],
    )

    db = {"system": SYSTEM, "database": "demo-pg"}
    h.add("aftercare_database_up", db, [(t, 1.0) for t in minute])
    grown = [(t, (t - lead) / 86400) for t in five]
    h.add(
        "aftercare_database_size_bytes",
        {**db, "datname": "postgres"},
        [(t, 2 * GIB + 60 * MIB * d) for t, d in grown],
    )
    h.add(
        "aftercare_database_filesystem_free_bytes",
        db,
        [(t, 40 * GIB - 75 * MIB * d) for t, d in grown],
    )
    h.add("aftercare_database_filesystem_size_bytes", db, [(t, 100 * GIB) for t in five])
    h.add(
        "aftercare_database_connections",
        {**db, "state": "active"},
        [(t, round(4 + 20 * diurnal(t))) for t in five],
    )
    h.add("aftercare_database_max_connections", db, [(t, 100.0) for t in five])
    h.add(
        "aftercare_database_commits_total",
        {**db, "datname": "postgres"},
        [(t, 40.0 * (t - lead)) for t in five],
        "counter",
    )
    h.add(
        "aftercare_database_deadlocks_total",
        {**db, "datname": "postgres"},
        counter(five, [at(start, 6, 11, 3), at(start, 23, 16, 41)]),
        "counter",
    )

    runs = daily(start, end, 2, 0)
    failed = [t for t in runs if dt.datetime.fromtimestamp(t, TZ).day == 21 and t >= start]
    ok = [t for t in runs if t not in failed]
    ex = {"system": SYSTEM, "exchange": "demo-upload"}
    h.add(
        "aftercare_exchange_runs_total", {**ex, "result": "success"}, counter(five, ok), "counter"
    )
    h.add(
        "aftercare_exchange_runs_total",
        {**ex, "result": "failure"},
        counter(five, failed),
        "counter",
    )
    h.add("aftercare_exchange_records_total", ex, counter(five, ok, 1200.0), "counter")
    h.add(
        "aftercare_exchange_last_success_timestamp_seconds",
        ex,
        latest(five, [(t, t + 95) for t in ok]),
    )
    h.add(
        "aftercare_exchange_deadline_timestamp_seconds",
        ex,
        latest(five, [(t, t + 86400 + 15 * 60) for t in ok]),
    )

    nightly = daily(start, end, 1, 30)
    bk = {"system": SYSTEM, "backup": "demo-dump"}
    h.add(
        "aftercare_backup_last_success_timestamp_seconds",
        bk,
        latest(five, [(t, t + 240) for t in nightly]),
    )
    h.add("aftercare_backup_verified", bk, [(t, 1.0) for t in five])
    h.add(
        "aftercare_backup_size_bytes",
        bk,
        latest(five, [(t, 300 * MIB + i * 9 * MIB) for i, t in enumerate(nightly)]),
    )

    errors = [t for t in steps(lead, end, 3 * 3600)] + [outage[0] + 30 * i for i in range(20)]
    h.add(
        "aftercare_log_lines_total",
        {"system": SYSTEM, "source": "demo-app", "level": "error"},
        counter(five, errors),
        "counter",
    )
    h.add(
        "aftercare_log_lines_total",
        {"system": SYSTEM, "source": "demo-app", "level": "warning"},
        counter(five, [t for t in steps(lead, end, 1800)]),
        "counter",
    )

    down = {
        "alertname": "AftercareServiceDown",
        "system": SYSTEM,
        "service": "demo-web",
        "severity": "critical",
    }
    firing_down = steps(outage[0] + 60, outage[1], 60)
    h.add("ALERTS", {**down, "alertstate": "firing"}, [(t, 1.0) for t in firing_down])
    h.add("ALERTS_FOR_STATE", down, [(t, outage[0]) for t in firing_down])
    slow_alert = {
        "alertname": "AftercareServiceSlow",
        "system": SYSTEM,
        "service": "demo-slow",
        "severity": "warning",
    }
    firing_slow = steps(slow[0] + 300, slow[1], 60)
    h.add("ALERTS", {**slow_alert, "alertstate": "firing"}, [(t, 1.0) for t in firing_slow])
    h.add(
        "ALERTS",
        {"alertname": "Watchdog", "severity": "none", "alertstate": "firing"},
        [(t, 1.0) for t in minute],
    )
    return h


def month_config(path: Path) -> Path:
    """aftercare.yml naming the demo system's targets (the report reads names, SLA and zone)."""
    path.write_text(
        yaml.safe_dump(
            {
                "defaults": {"timezone": "Asia/Shanghai"},
                "systems": [
                    {
                        "name": SYSTEM,
                        "customer": "Demo customer",
                        "sla": {"availability": 0.999, "response_time": "2s"},
                        "databases": [
                            {
                                "name": "demo-pg",
                                "type": "postgresql",
                                "dsn": "postgresql://postgres@127.0.0.1:5432/postgres",
                                "data_path": "/var/lib/postgresql",
                            }
                        ],
                        "services": [
                            {"name": "demo-web", "http": {"url": "http://127.0.0.1:8080/health"}},
                            {"name": "demo-slow", "http": {"url": "http://127.0.0.1:8080/slow"}},
                        ],
                        "logs": [{"source": "demo-app", "path": "/var/log/demo/app.log"}],
                        "integrations": [
                            {"name": "demo-app-port", "tcp": {"address": "127.0.0.1:8080"}}
                        ],
                        "exchange": [
                            {"name": "demo-upload", "schedule": "0 2 * * *", "max_duration": "30m"}
                        ],
                        "backups": [
                            {
                                "name": "demo-dump",
                                "path": "/backups/demo-*.dump",
                                "schedule": "30 1 * * *",
                                "verify": "pg_restore",
                            }
                        ],
                    }
                ],
            },
            sort_keys=False,
        )
    )
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo-month", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--period",
        default=previous_month(dt.datetime.now(TZ).date()),
        help="the month, YYYY-MM (default: the previous month)",
    )
    parser.add_argument("--out", type=Path, default=Path("demo-out"), help="default ./demo-out")
    parser.add_argument("--format", default="html,pdf,json,docx", help="default html,pdf,json,docx")
    args = parser.parse_args(argv)
    began = time.monotonic()
    start, end = month_bounds(args.period)
    with tempfile.TemporaryDirectory(prefix="aftercare-demo-month-") as tmp:
        say(f"writing {args.period} of the demo system as Prometheus blocks ...")
        history = month_history(start, end)
        samples = sum(len(p) for p in history.series.values())
        prom = Prometheus(extra_args=["--storage.tsdb.retention.time=3650d"])
        try:
            history.backfill(str(prom.storage_path))
            prom.start()
            say(
                f"{len(history.series)} series, {samples:,} samples in Prometheus at {prom.url} "
                f"({time.monotonic() - began:.1f}s)"
            )
            config = month_config(Path(tmp) / "aftercare.yml")
            for lang in ("zh", "en"):
                result = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "reportgen.cli",
                        "--prometheus",
                        prom.url,
                        "--config.file",
                        str(config),
                        "--period",
                        args.period,
                        "--format",
                        args.format,
                        "--lang",
                        lang,
                        "--out",
                        str(args.out),
                        "--no-previous",
                        "--quiet",
                    ],
                    cwd=REPO,
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                if result.returncode != 0:
                    say(
                        f"the {lang} report failed (exit {result.returncode}): "
                        f"{result.stderr.strip()[-800:]}"
                    )
                    return 1
        finally:
            prom.close()
    for path in sorted(args.out.resolve().glob(f"aftercare-report-{args.period}-*")):
        print(f"    report  {path}", flush=True)
    say(f"done in {time.monotonic() - began:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
