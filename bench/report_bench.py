"""Benchmark aftercare-report: 20 systems, one month of 1-minute samples in a real Prometheus.

Reports the report's wall time and the time Prometheus spent answering its queries
(the sum of each query's execTotalTime), and their ratio. Usage:

    python bench/report_bench.py [--systems 20] [--runs 3] [--blocks DIR]

--blocks DIR keeps the backfilled TSDB blocks in DIR and reuses them on the next run
(the backfill takes minutes; the report is what is measured). Each run is made twice:
with --query-concurrency 1 (one query at a time: the Prometheus time is the plain sum of
query times) and 4 (the default: queries overlap, so the sum exceeds the wall time).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from devstack.prometheus import Prometheus  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2026, 10, 1, tzinfo=TZ).timestamp() - 86400
END = dt.datetime(2026, 11, 1, tzinfo=TZ).timestamp() + 3600


def config_text(n: int) -> str:
    out = ["defaults: {timezone: Asia/Shanghai}", "systems:"]
    for i in range(n):
        out += [
            f"  - name: sys{i:02d}",
            "    services:",
            "      - {name: web, http: {url: 'http://127.0.0.1:1/'}}",
            "      - {name: api, tcp: {address: '127.0.0.1:2'}}",
            "    integrations:",
            "      - {name: cache, redis: {address: '127.0.0.1:6379'}}",
            "    databases:",
            "      - {name: pg, type: postgresql, dsn: 'postgresql://m@127.0.0.1:5432/postgres'}",
            "    exchange:",
            "      - {name: upload, schedule: '0 2 * * *'}",
            "    backups:",
            "      - {name: nightly, path: '/b/*.dump'}",
            "    logs:",
            "      - {source: app, path: /var/log/app.log}",
            "      - {source: access, path: /var/log/nginx/access.log, format: combined}",
        ]
    return "\n".join(out) + "\n"


def day_file(day_start: float, n: int, path: str) -> None:
    """All series of all systems for one day at 1-minute samples."""
    stamps = [day_start + 60 * k for k in range(1440) if day_start + 60 * k < END]
    fams: dict[str, list[str]] = {}

    def series(family, kind, name, labels, value):
        fams.setdefault(f"# TYPE {family} {kind}", [])
        body = ",".join(f'{k}="{v}"' for k, v in labels.items())
        fams[f"# TYPE {family} {kind}"].extend(
            f"{name}{{{body}}} {value(t)!r} {t:.0f}" for t in stamps
        )

    for i in range(n):
        s = f"sys{i:02d}"
        for svc in ("web", "api"):
            lab = {"system": s, "service": svc}
            series(
                "aftercare_service_up",
                "gauge",
                "aftercare_service_up",
                lab,
                lambda t, i=i: 0.0 if int(t) % (86400 * (3 + i % 5)) < 600 else 1.0,
            )
            series(
                "aftercare_service_response_seconds",
                "gauge",
                "aftercare_service_response_seconds",
                lab,
                lambda t: 0.1 + (int(t) // 60 % 13) / 100,
            )
        series(
            "aftercare_integration_up",
            "gauge",
            "aftercare_integration_up",
            {"system": s, "integration": "cache"},
            lambda t: 1.0,
        )
        db = {"system": s, "database": "pg"}
        series("aftercare_database_up", "gauge", "aftercare_database_up", db, lambda t: 1.0)
        series(
            "aftercare_database_size_bytes",
            "gauge",
            "aftercare_database_size_bytes",
            {**db, "datname": "app"},
            lambda t: float(2**33 + int(t - START) * 100),
        )
        series(
            "aftercare_database_filesystem_free_bytes",
            "gauge",
            "aftercare_database_filesystem_free_bytes",
            db,
            lambda t: float(2**37 - int(t - START) * 100),
        )
        series(
            "aftercare_database_commits",
            "counter",
            "aftercare_database_commits_total",
            {**db, "datname": "app"},
            lambda t: float(int(t - START) * 5),
        )
        ex = {"system": s, "exchange": "upload"}
        series(
            "aftercare_exchange_runs",
            "counter",
            "aftercare_exchange_runs_total",
            {**ex, "result": "success"},
            lambda t: float(int(t - START) // 86400),
        )
        series(
            "aftercare_exchange_last_success_timestamp_seconds",
            "gauge",
            "aftercare_exchange_last_success_timestamp_seconds",
            ex,
            lambda t: float(START + (int(t - START) // 86400) * 86400),
        )
        series(
            "aftercare_exchange_deadline_timestamp_seconds",
            "gauge",
            "aftercare_exchange_deadline_timestamp_seconds",
            ex,
            lambda t: float(START + (int(t - START) // 86400 + 1) * 86400 + 3600),
        )
        bk = {"system": s, "backup": "nightly"}
        series(
            "aftercare_backup_last_success_timestamp_seconds",
            "gauge",
            "aftercare_backup_last_success_timestamp_seconds",
            bk,
            lambda t: float(START + (int(t - START) // 86400) * 86400),
        )
        series("aftercare_backup_verified", "gauge", "aftercare_backup_verified", bk, lambda t: 1.0)
        series(
            "aftercare_log_lines",
            "counter",
            "aftercare_log_lines_total",
            {"system": s, "source": "app", "level": "error"},
            lambda t: float(int(t - START) // 600),
        )
        series(
            "aftercare_database_filesystem_size_bytes",
            "gauge",
            "aftercare_database_filesystem_size_bytes",
            db,
            lambda t: float(2**38),
        )
        for state, n in (("active", 5.0), ("idle", 20.0)):
            series(
                "aftercare_database_connections",
                "gauge",
                "aftercare_database_connections",
                {**db, "state": state},
                lambda t, n=n: n + int(t) // 60 % 7,
            )
        series(
            "aftercare_database_max_connections",
            "gauge",
            "aftercare_database_max_connections",
            db,
            lambda t: 100.0,
        )
        for k, table in enumerate(("orders", "events", "users", "audit", "items", "__other__")):
            series(
                "aftercare_database_table_size_bytes",
                "gauge",
                "aftercare_database_table_size_bytes",
                {**db, "datname": "app", "table": table},
                lambda t, k=k: float(2**30 * (k + 1) + int(t - START) * 10 * (k % 3)),
            )
        series(
            "aftercare_database_wal_archived",
            "counter",
            "aftercare_database_wal_archived_total",
            db,
            lambda t: float(int(t - START) // 300),
        )
        series(
            "aftercare_database_wal_archive_failures",
            "counter",
            "aftercare_database_wal_archive_failures_total",
            db,
            lambda t: 0.0,
        )
        access = {"system": s, "source": "access"}
        for cls, rate in (("2xx", 50), ("4xx", 2), ("5xx", 1)):
            series(
                "aftercare_http_requests",
                "counter",
                "aftercare_http_requests_total",
                {**access, "code_class": cls},
                lambda t, r=rate: float(int(t - START) // 60 * r),
            )
        for le, share in (
            ("0.005", 0),
            ("0.01", 0),
            ("0.025", 1),
            ("0.05", 5),
            ("0.1", 20),
            ("0.25", 40),
            ("0.5", 48),
            ("1.0", 50),
            ("2.0", 52),
            ("2.5", 52),
            ("5.0", 53),
            ("10.0", 53),
            ("30.0", 53),
            ("+Inf", 53),
        ):
            series(
                "aftercare_http_request_duration_seconds",
                "histogram",
                "aftercare_http_request_duration_seconds_bucket",
                {**access, "le": le},
                lambda t, n=share: float(int(t - START) // 60 * n),
            )
    with open(path, "w") as fh:
        for header, lines in fams.items():
            fh.write(header + "\n")
            fh.write("\n".join(lines) + "\n")
        fh.write("# EOF\n")


def backfill(storage: str, n: int) -> float:
    started = time.monotonic()
    days = []
    t = START
    while t < END:
        days.append(t)
        t += 86400
    with tempfile.TemporaryDirectory() as tmp:

        def one(day):
            src = os.path.join(tmp, f"{int(day)}.om")
            out = os.path.join(tmp, f"blocks-{int(day)}")
            day_file(day, n, src)
            subprocess.run(
                ["promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet", src, out],
                check=True,
                capture_output=True,
            )
            os.unlink(src)
            return out

        with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
            for out in pool.map(one, days):
                for block in os.listdir(out):
                    os.replace(os.path.join(out, block), os.path.join(storage, block))
    return time.monotonic() - started


def time_every_format(url: str, config: Path, out: Path, report: dict) -> None:
    """One run writing html, json, pdf and docx; then the PDF and DOCX rendering alone."""
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "reportgen.cli",
            "--prometheus",
            url,
            "--config.file",
            str(config),
            "--period",
            "2026-10",
            "--lang",
            "zh",
            "--format",
            "html,json,pdf,docx",
            "--out",
            str(out),
            "--quiet",
        ],
        check=True,
        cwd=REPO,
    )
    print(f"html, json, pdf and docx: wall {time.monotonic() - started:.2f} s")
    from reportgen.render import render_html, render_pdf
    from reportgen.render.word import render_docx

    html = render_html(report, "zh")
    started = time.monotonic()
    pdf = render_pdf(html)
    print(f"  PDF rendering alone: {time.monotonic() - started:.2f} s ({len(pdf):,} bytes)")
    started = time.monotonic()
    docx = render_docx(report, "zh")
    print(f"  DOCX rendering alone: {time.monotonic() - started:.2f} s ({len(docx):,} bytes)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--systems", type=int, default=20)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--blocks", metavar="DIR", help="keep/reuse the backfilled blocks here")
    args = ap.parse_args()
    prom = Prometheus(extra_args=["--storage.tsdb.retention.time=3650d"], startup_timeout=300)
    try:
        kept = Path(args.blocks) / f"systems-{args.systems}" if args.blocks else None
        if kept and kept.is_dir():
            for block in kept.iterdir():
                shutil.copytree(block, prom.storage_path / block.name)
            print(f"backfill: reused {kept}")
        else:
            seconds = backfill(str(prom.storage_path), args.systems)
            print(f"backfill: {args.systems} systems, {seconds:.1f} s")
            if kept:
                shutil.copytree(prom.storage_path, kept)
        prom.start()
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "aftercare.yml"
            config.write_text(config_text(args.systems))
            for run in range(2 * args.runs):
                concurrency = 1 if run % 2 == 0 else 4
                out = Path(tmp) / f"out{run}"
                started = time.monotonic()
                subprocess.run(
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
                        "--lang",
                        "en",
                        "--format",
                        "html,json",
                        "--out",
                        str(out),
                        "--quiet",
                        "--query-concurrency",
                        str(concurrency),
                    ],
                    check=True,
                    cwd=REPO,
                )
                wall = time.monotonic() - started
                report = json.loads(next(out.glob("*.json")).read_text())
                q = report["method"]["query_server_seconds"]
                print(
                    f"run {run // 2 + 1}, query concurrency {concurrency}: wall {wall:.2f} s "
                    "(process start to files written), "
                    f"Prometheus query time {q:.2f} s, ratio {wall / q:.2f}, "
                    f"{report['method']['query_count']} queries, "
                    f"{len(report['systems'])} systems"
                )
            for item in report["method"]["slowest_queries"]:
                print(f"  {item['seconds']:.2f} s  {item['expr'][:110]}")
            time_every_format(prom.url, config, Path(tmp) / "all", report)
    finally:
        prom.close()


if __name__ == "__main__":
    main()
