"""Benchmark: `aftercare-exporter database` against Debian's prometheus-postgres-exporter.

Starts a throwaway PostgreSQL cluster (devstack's: the newest installed server,
initdb as the postgres user), creates 20 databases x 200 tables, starts both exporters on loopback
ports and scrapes them pair by pair (alternating which goes first).  Prints
the median scrape wall time of each, the ratio, series counts and RSS.

    python bench/database_bench.py [--pairs 31] [--databases 20] [--tables 200] [--interval 0.25]

A benchmark to run by hand, not a test.  Needs `prometheus-postgres-exporter`
(apt-get install -y prometheus-postgres-exporter) and root (for runuser).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from devstack.ports import free_port  # noqa: E402
from devstack.postgres import PG_BIN, ThrowawayPostgres  # noqa: E402

ANCHOR = "prometheus-postgres-exporter"


def psql(port: int, db: str, sql: str) -> None:
    subprocess.run(
        [
            str(PG_BIN / "psql"),
            "-X",
            "-q",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "-d",
            db,
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ],
        check=True,
        capture_output=True,
        text=True,
    )


def fill(port: int, databases: int, tables: int) -> None:
    make_tables = f"""
DO $$ BEGIN
  FOR i IN 1..{tables} LOOP
    EXECUTE format('CREATE TABLE t%s (id serial PRIMARY KEY, v text)', i);
    EXECUTE format('INSERT INTO t%s (v) SELECT md5(g::text) FROM generate_series(1, %s) g', i, i);
  END LOOP;
END $$"""
    for d in range(databases):
        psql(port, "postgres", f"CREATE DATABASE bench{d:02d}")
        psql(port, f"bench{d:02d}", make_tables)
    psql(port, "postgres", "CHECKPOINT")


def wait_http(url: str, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=5).read()
            return
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.2)


def scrape(url: str) -> tuple[float, int]:
    start = time.perf_counter()
    body = urllib.request.urlopen(url, timeout=60).read().decode()
    took = time.perf_counter() - start
    return took, sum(1 for line in body.splitlines() if line and not line.startswith("#"))


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident set size in MB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    kb = lambda key: int(fields[key].split()[0]) / 1024  # noqa: E731
    return kb("VmRSS"), kb("VmHWM")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=31)
    parser.add_argument("--databases", type=int, default=20)
    parser.add_argument("--tables", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument(
        "--interval",
        type=float,
        default=0.25,
        help="pause between pairs, seconds: Prometheus never scrapes back to back, "
        "and each exporter may finish work after answering (0 to disable)",
    )
    args = parser.parse_args()
    anchor_bin = shutil.which(ANCHOR)
    if not anchor_bin:
        print(f"{ANCHOR} not found: apt-get install -y {ANCHOR}", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="aftercare-bench-", dir="/tmp"))
    procs: list[subprocess.Popen] = []
    cluster = ThrowawayPostgres(settings={"max_connections": "200"})
    try:
        print(
            f"cluster in {cluster.dir}: {args.databases} databases x {args.tables} tables ...",
            flush=True,
        )
        port = cluster.start().port
        fill(port, args.databases, args.tables)

        anchor_port, ours_port = free_port(), free_port()
        env = dict(
            os.environ,
            DATA_SOURCE_NAME=f"postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=disable",
        )
        procs.append(
            subprocess.Popen(
                [
                    anchor_bin,
                    "--auto-discover-databases",
                    f"--web.listen-address=127.0.0.1:{anchor_port}",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        config = workdir / "aftercare.yml"
        config.write_text(f"""defaults: {{timeout: 10s, state_dir: {workdir / "state"}}}
systems:
  - name: bench
    databases:
      - {{name: bench-pg, type: postgresql, dsn: "postgresql://postgres@127.0.0.1:{port}/postgres"}}
""")
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "exporters.cli",
                    "database",
                    "--config.file",
                    str(config),
                    "--web.listen-address",
                    f"127.0.0.1:{ours_port}",
                    "--log.level",
                    "warn",
                ],
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        urls = {
            "anchor": f"http://127.0.0.1:{anchor_port}/metrics",
            "ours": f"http://127.0.0.1:{ours_port}/metrics",
        }
        pids = {"anchor": procs[0].pid, "ours": procs[1].pid}
        for url in urls.values():
            wait_http(url)
        for _ in range(args.warmup):
            for url in urls.values():
                scrape(url)
        times: dict[str, list[float]] = {"anchor": [], "ours": []}
        series: dict[str, int] = {}
        for i in range(args.pairs):
            time.sleep(args.interval)
            order = ("anchor", "ours") if i % 2 == 0 else ("ours", "anchor")
            for name in order:
                took, count = scrape(urls[name])
                times[name].append(took)
                series[name] = count
        rss = {name: rss_mb(pid) for name, pid in pids.items()}
        print(
            f"{args.pairs} scrape pairs, {args.interval:g} s apart, after {args.warmup} warm-up "
            "scrapes each"
        )
        print(
            f"{'exporter':<28}{'median ms':>10}{'p90 ms':>9}{'max ms':>9}{'series':>8}"
            f"{'RSS MB':>8}{'peak MB':>9}"
        )
        for name, label in (
            ("anchor", f"{ANCHOR} (anchor)"),
            ("ours", "aftercare-exporter database"),
        ):
            t = sorted(times[name])
            print(
                f"{label:<28}{statistics.median(t) * 1000:>10.1f}"
                f"{t[int(0.9 * (len(t) - 1))] * 1000:>9.1f}{t[-1] * 1000:>9.1f}"
                f"{series[name]:>8}{rss[name][0]:>8.1f}{rss[name][1]:>9.1f}"
            )
        ratio = statistics.median(times["ours"]) / statistics.median(times["anchor"])
        print(f"ratio (ours / anchor, median wall time): {ratio:.2f}")
        return 0
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        cluster.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
