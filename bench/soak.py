"""Soak: every exporter scraped thousands of times while what it watches flaps.

    python bench/soak.py [--scrapes 10000] [--interval 0.05] [--flap 5]

Starts the five exporters (database, services, integrations, exchange,
backups) as real processes and scrapes each every ``--interval`` seconds,
``--scrapes`` times, while:

- a throwaway PostgreSQL cluster owned by this script is stopped and started
  every ``--flap`` seconds (the database target, a PostgreSQL link, the
  database's server log);
- the machine's MariaDB (127.0.0.1:3306) is reached through a proxy that,
  every other period, freezes every connection and accepts new ones without
  ever answering (a black hole);
- an HTTP target cycles through 200, 500, slow (past the timeout) and
  black hole; a TCP check goes through the same proxy;
- an application log gets lines continuously and is rotated every few
  seconds; exchange jobs run through ``aftercare-job``; backup files appear.

At the end it prints, per exporter: crashes, RSS over the first and last
window of scrapes, open file descriptors and threads at start and end,
scrapes slower than their timeout and non-200 answers; per database target
the most connections the exporters ever held (pg_stat_activity, SHOW
PROCESSLIST); and whether log lines and job runs were counted exactly once
across rotations and restarts.  Needs the machine's PostgreSQL binaries,
MariaDB, Redis, RabbitMQ and Mosquitto, as the tests do.
"""

from __future__ import annotations

import argparse
import http.server
import os
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pymysql
import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devstack.exporter import ExporterProcess  # noqa: E402
from devstack.postgres import ThrowawayPostgres  # noqa: E402

MARIADB = dict(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)
AREAS = ("database", "services", "integrations", "exchange", "backups")
TARGET_TIMEOUT = "500ms"
SCRAPE_TIMEOUT = 1.5  # what the soak's "Prometheus" announces; the budget is 1.0 s


class FlappingProxy:
    """TCP proxy to ``upstream`` that can turn into a black hole: existing
    connections freeze (upstream side closed, client side left hanging) and
    new ones are accepted and never answered."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.frozen = False
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        self.listener.settimeout(0.2)
        while not self.stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                continue
            if self.frozen:
                self._hold(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=2)
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _hold(self, sock):
        with self.lock:
            self.held.append(sock)

    def _pump(self, client, server):
        with selectors.DefaultSelector() as sel:
            sel.register(client, selectors.EVENT_READ, server)
            sel.register(server, selectors.EVENT_READ, client)
            while not self.stop.is_set():
                if self.frozen:
                    server.close()
                    self._hold(client)
                    return
                for key, _ in sel.select(0.1):
                    try:
                        data = key.fileobj.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        client.close()
                        server.close()
                        return
                    try:
                        key.data.sendall(data)
                    except OSError:
                        client.close()
                        server.close()
                        return

    def thaw(self):
        self.frozen = False
        with self.lock:
            for sock in self.held:
                sock.close()
            self.held.clear()

    def close(self):
        self.stop.set()
        self.thaw()
        self.listener.close()


class FlappingHttp:
    """An HTTP target answering 200, 500, or too slowly, as ``mode`` says."""

    def __init__(self):
        self.mode = "ok"
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                mode = outer.mode
                if mode == "slow":
                    time.sleep(2)
                try:
                    self.send_response(500 if mode == "error" else 200)
                    self.send_header("Content-Length", "3")
                    self.end_headers()
                    self.wfile.write(b"ok\n")
                except OSError:
                    pass  # the probe gave up first (the slow mode)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
        ).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def proc_status(pid: int) -> dict:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "Threads"):
                    out[key] = int(value.split()[0])
        out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        pass
    return out


class Soaked:
    """One exporter process, scraped in its own thread; keeps per-scrape figures."""

    def __init__(self, area: str, config: Path):
        self.area = area
        self.exporter = ExporterProcess(area, config, extra=["--log.level", "debug"])
        self.status: list[dict] = []  # per scrape: rss, threads, fds
        self.slow = self.errors = self.crashes = self.done = 0
        self.durations: list[float] = []

    def start(self):
        self.exporter.start()
        return self

    def run(self, scrapes: int, interval: float, stop: threading.Event):
        """Scrape until ``stop``; the first ``scrapes`` are measured (scraping goes on
        while the others finish, so the logs keep being read up to the end)."""
        session = requests.Session()
        headers = {"X-Prometheus-Scrape-Timeout-Seconds": str(SCRAPE_TIMEOUT)}
        next_at = time.monotonic()
        while not stop.is_set():
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at = time.monotonic() + interval
            if self.exporter.returncode is not None:
                self.crashes += 1
                self.exporter.start()
            start = time.monotonic()
            try:
                response = session.get(f"{self.exporter.url}/metrics", headers=headers, timeout=10)
                ok = response.status_code == 200
            except requests.RequestException:
                ok = False
            took = time.monotonic() - start
            if self.done >= scrapes:
                continue
            self.durations.append(took)
            self.errors += not ok
            self.slow += took > SCRAPE_TIMEOUT
            self.status.append(proc_status(self.exporter.process.pid))
            self.done += 1

    def metric_sum(self, name: str, **labels) -> float:
        from prometheus_client.parser import text_string_to_metric_families

        text = self.exporter.get("/metrics").text
        return sum(
            s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )


class Watcher:
    """Samples, every 50 ms, the sessions the exporters hold per database."""

    def __init__(self, pg: ThrowawayPostgres, my_dbs: list[str]):
        self.pg, self.my_dbs = pg, my_dbs
        self.max_pg: dict[str, int] = {}
        self.max_my: dict[str, int] = {db: 0 for db in my_dbs}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        my = pymysql.connect(**MARIADB)
        while not self.stop.is_set():
            try:
                conn = self.pg.connect()
                with conn.cursor() as cur:
                    cur.execute(
                        "SELECT datname, count(*) FROM pg_stat_activity "
                        "WHERE application_name = 'aftercare-exporter' GROUP BY datname"
                    )
                    for db, n in cur.fetchall():
                        self.max_pg[db] = max(self.max_pg.get(db, 0), n)
                conn.close()
            except Exception:
                pass  # the cluster is down in this period
            with my.cursor() as cur:
                cur.execute(
                    "SELECT db, count(*) FROM information_schema.processlist "
                    "WHERE db IN %s GROUP BY db",
                    (self.my_dbs,),
                )
                for db, n in cur.fetchall():
                    self.max_my[db] = max(self.max_my[db], n)
            time.sleep(0.05)
        my.close()


def write_config(
    tmp: Path,
    pg: ThrowawayPostgres,
    my_proxy: FlappingProxy,
    http_proxy: FlappingProxy,
    my_db: str,
    my_link_db: str,
) -> Path:
    (tmp / "logs").mkdir()
    (tmp / "outbox").mkdir()
    (tmp / "backups").mkdir()
    (tmp / "jobs").mkdir()
    my_dsn = f"mysql://root@127.0.0.1:{my_proxy.port}"
    url = f"http://127.0.0.1:{http_proxy.port}/health"
    config = {
        "defaults": {"timeout": TARGET_TIMEOUT, "state_dir": str(tmp / "state")},
        "systems": [
            {
                "name": "soak",
                "databases": [
                    {
                        "name": "soak-pg",
                        "type": "postgresql",
                        "dsn": pg.dsn(),
                        "log": {"path": str(pg.log_path)},
                    },
                    {"name": "soak-my", "type": "mysql", "dsn": f"{my_dsn}/{my_db}"},
                ],
                "services": [
                    {"name": "web", "http": {"url": url}},
                    {"name": "rpc", "tcp": {"address": f"127.0.0.1:{http_proxy.port}"}},
                    {"name": "worker", "process": {"pattern": "soak-no-such-process"}},
                ],
                "logs": [
                    {
                        "source": "app",
                        "path": str(tmp / "logs" / "*.log"),
                        "levels": {"error": "ERROR", "warning": "WARN"},
                    }
                ],
                "integrations": [
                    {"name": "web-link", "http": {"url": url}},
                    {"name": "pg-link", "postgresql": {"dsn": pg.dsn(dbname="soak_link")}},
                    {"name": "my-link", "mysql": {"dsn": f"{my_dsn}/{my_link_db}"}},
                    {"name": "cache", "redis": {"address": "127.0.0.1:6379"}},
                    {"name": "queue", "amqp": {"url": "amqp://guest:guest@127.0.0.1:5672/"}},
                    {"name": "iot", "mqtt": {"address": "127.0.0.1:1883"}},
                ],
                "exchange": [
                    {
                        "name": f"job{i}",
                        "schedule": "*/5 * * * *",
                        "outbox": {"path": str(tmp / "outbox"), "pattern": "*.xml"},
                        "log": {"path": str(tmp / "jobs" / f"job{i}.log")},
                    }
                    for i in range(3)
                ],
                "backups": [
                    {
                        "name": "nightly",
                        "path": str(tmp / "backups" / "*.dump"),
                        "schedule": "30 1 * * *",
                        "min_size": "1KiB",
                    }
                ],
            }
        ],
    }
    path = tmp / "aftercare.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class Faults:
    """Flaps everything on a schedule until stopped; counts what it wrote and ran."""

    def __init__(
        self,
        tmp: Path,
        config: Path,
        pg: ThrowawayPostgres,
        my_proxy: FlappingProxy,
        http: FlappingHttp,
        http_proxy: FlappingProxy,
        period: float,
    ):
        self.tmp, self.config, self.pg = tmp, config, pg
        self.my_proxy, self.http, self.http_proxy, self.period = my_proxy, http, http_proxy, period
        self.stop = threading.Event()
        self.lines = {"error": 0, "warning": 0}
        self.rotations = self.pg_flaps = self.my_flaps = 0
        self.job_runs = {"success": 0, "failure": 0}
        self.threads = [
            threading.Thread(target=f, daemon=True)
            for f in (self._databases, self._http, self._logs, self._jobs)
        ]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def _databases(self):
        while not self.stop.wait(self.period):
            if self.pg.is_running():
                self.pg.stop("fast")
            else:
                self.pg.start()
            self.pg_flaps += 1
            if self.my_proxy.frozen:
                self.my_proxy.thaw()
            else:
                self.my_proxy.frozen = True
            self.my_flaps += 1
        self.my_proxy.thaw()
        if not self.pg.is_running():
            self.pg.start()

    def _http(self):
        modes = ["ok", "error", "slow", "blackhole"]
        i = 0
        while not self.stop.wait(self.period / 2):
            i += 1
            mode = modes[i % len(modes)]
            self.http.mode = "ok" if mode == "blackhole" else mode
            if mode == "blackhole":
                self.http_proxy.frozen = True
            else:
                self.http_proxy.thaw()
        self.http_proxy.thaw()
        self.http.mode = "ok"

    def _logs(self):
        log = self.tmp / "logs" / "app.log"
        rotate_at = time.monotonic() + 3
        n = 0
        while not self.stop.wait(0.01):
            with open(log, "a") as fh:
                for _ in range(5):
                    n += 1
                    level = "ERROR" if n % 7 == 0 else ("WARN" if n % 3 == 0 else "INFO")
                    fh.write(f"2026-11-26 08:00:00 {level} request {n} done\n")
                    if level == "ERROR":
                        self.lines["error"] += 1
                    elif level == "WARN":
                        self.lines["warning"] += 1
            if time.monotonic() >= rotate_at:
                rotated = self.tmp / "logs" / f"app.log.{self.rotations}"
                os.replace(log, rotated)  # the glob *.log no longer matches it
                self.rotations += 1
                rotate_at = time.monotonic() + 3

    def _jobs(self):
        i = 0
        while not self.stop.wait(2.0):
            i += 1
            ok = i % 4 != 0
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "exporters.jobcli",
                    "run",
                    "--config.file",
                    str(self.config),
                    "--job",
                    f"job{i % 3}",
                    "--",
                    "true" if ok else "false",
                ],
                cwd=ROOT,
                capture_output=True,
                timeout=30,
            )
            self.job_runs["success" if ok else "failure"] += 1
            (self.tmp / "outbox" / f"out{i}.xml").write_text("<x/>")
            (self.tmp / "backups" / f"b{i}.dump").write_bytes(b"\0" * 4096)


def window_mean(values: list[float], first: bool, window: int) -> float:
    chosen = values[:window] if first else values[-window:]
    return statistics.fmean(chosen) if chosen else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scrapes", type=int, default=10000, help="scrapes per exporter")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between scrapes")
    parser.add_argument("--flap", type=float, default=5.0, help="seconds between database flaps")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and logs")
    args = parser.parse_args()
    window = min(1000, max(1, args.scrapes // 4))
    tag = uuid.uuid4().hex[:8]
    my_db, my_link_db = f"soak_{tag}", f"soak_link_{tag}"
    admin = pymysql.connect(**MARIADB)
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{my_db}`")
        cur.execute(f"CREATE DATABASE `{my_link_db}`")
    tmp = Path(tempfile.mkdtemp(prefix="aftercare-soak-"))
    pg = ThrowawayPostgres(settings={"log_min_messages": "warning"}).start()
    conn = pg.connect()
    with conn.cursor() as cur:
        cur.execute("CREATE DATABASE soak_link")
    conn.close()
    my_proxy = FlappingProxy(("127.0.0.1", 3306))
    http = FlappingHttp()
    http_proxy = FlappingProxy(("127.0.0.1", http.port))
    config = write_config(tmp, pg, my_proxy, http_proxy, my_db, my_link_db)
    (tmp / "logs" / "app.log").write_text("")
    soaked = [Soaked(area, config).start() for area in AREAS]
    for s in soaked:  # each log's first poll starts at its end: have it before any line
        s.exporter.get("/metrics")
    watcher = Watcher(pg, [my_db, my_link_db])
    watcher.thread.start()
    faults = Faults(tmp, config, pg, my_proxy, http, http_proxy, args.flap).start()
    stop = threading.Event()
    began = time.monotonic()
    runners = [
        threading.Thread(target=s.run, args=(args.scrapes, args.interval, stop), daemon=True)
        for s in soaked
    ]
    try:
        for r in runners:
            r.start()
        while min(s.done for s in soaked) < args.scrapes:
            time.sleep(1)
            done = min(s.done for s in soaked)
            print(
                f"\r{time.monotonic() - began:6.0f}s  scrapes done (slowest exporter): {done}",
                end="",
                file=sys.stderr,
                flush=True,
            )
    except KeyboardInterrupt:
        stop.set()
    print(file=sys.stderr)
    faults.join()  # everything up again, writers stopped
    time.sleep(3)  # the scrapers read the last lines and runs
    stop.set()
    for r in runners:
        r.join(15)
    watcher.stop.set()
    watcher.thread.join(5)
    elapsed = time.monotonic() - began

    print(
        f"\nsoak: {min(s.done for s in soaked)} scrapes per exporter every {args.interval:g}s "
        f"in {elapsed:.0f}s; PostgreSQL flapped {faults.pg_flaps}x, "
        f"MariaDB proxy {faults.my_flaps}x, "
        f"log rotated {faults.rotations}x; target timeout {TARGET_TIMEOUT}, scrape timeout "
        f"{SCRAPE_TIMEOUT:g}s; RSS windows of {window} scrapes"
    )
    print(
        f"{'exporter':13} {'crashes':>7} {'RSS first MiB':>13} {'RSS last MiB':>12} {'growth':>7} "
        f"{'fds start/end':>13} {'threads start/end':>17} {'> timeout':>9} {'non-200':>7} "
        f"{'p50 ms':>7} {'max ms':>7}"
    )
    goals = []
    for s in soaked:
        rss = [st.get("VmRSS", 0) / 1024 for st in s.status]
        first, last = window_mean(rss, True, window), window_mean(rss, False, window)
        start_st = s.status[min(len(s.status) - 1, 10)]  # after the first scrapes warmed up
        end_st = s.status[-1]
        durations = sorted(s.durations)
        print(
            f"{s.area:13} {s.crashes:7d} {first:13.1f} {last:12.1f} {last - first:+7.1f} "
            f"{start_st.get('fds', 0):6d}/{end_st.get('fds', 0):<6d} "
            f"{start_st.get('Threads', 0):8d}/{end_st.get('Threads', 0):<8d} "
            f"{s.slow:9d} {s.errors:7d} "
            f"{durations[len(durations) // 2] * 1000:7.0f} {durations[-1] * 1000:7.0f}"
        )
        goals += [
            s.crashes == 0,
            last - first <= 10,
            s.slow == 0,
            s.errors == 0,
            abs(end_st.get("fds", 0) - start_st.get("fds", 0)) <= 5,
            abs(end_st.get("Threads", 0) - start_st.get("Threads", 0)) <= 5,
        ]
    print("max connections held by the exporters (goal <= 1 per target):")
    for db, n in sorted(watcher.max_pg.items()):
        print(f"  PostgreSQL {db:28} {n}")
        goals.append(n <= 1)
    for db, n in sorted(watcher.max_my.items()):
        print(f"  MariaDB    {db:28} {n}")
        goals.append(n <= 1)
    services = soaked[AREAS.index("services")]
    counted = {
        lvl: services.metric_sum("aftercare_log_lines_total", source="app", level=lvl)
        for lvl in ("error", "warning")
    }
    print(
        f"log lines across {faults.rotations} rotations: written {faults.lines}, counted "
        f"{ {k: int(v) for k, v in counted.items()} }"
    )
    goals.append(all(counted[k] == faults.lines[k] for k in counted))
    exchange = soaked[AREAS.index("exchange")]
    runs = {
        r: int(exchange.metric_sum("aftercare_exchange_runs_total", result=r))
        for r in ("success", "failure")
    }
    print(f"exchange runs: recorded by aftercare-job {faults.job_runs}, exported {runs}")
    goals.append(runs == faults.job_runs)
    print(f"goals met: {sum(goals)}/{len(goals)}")

    for s in soaked:
        if args.keep:
            (tmp / f"{s.area}.stderr.log").write_text(s.exporter.stderr_text())
        s.exporter.close()
    my_proxy.close()
    http_proxy.close()
    http.close()
    pg.close()
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{my_db}`")
        cur.execute(f"DROP DATABASE IF EXISTS `{my_link_db}`")
    admin.close()
    if args.keep:
        print(f"kept: {tmp}")
    else:
        subprocess.run(["rm", "-rf", str(tmp)])
    return 0 if all(goals) else 1


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    sys.exit(main())
