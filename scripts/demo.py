"""make demo: the whole product, natively, watching a throwaway demo system of its own.

Starts the demo system (a throwaway PostgreSQL cluster with tables and
traffic, the demo web app with a slow endpoint, a data-exchange job run
through aftercare-job, a pg_dump backup), the five exporters, Prometheus with
the project's rules, an Alertmanager HA pair with the project's routing, and
aftercare-notify printing every page on its console channels, and the maintenance desk
(SQLite), which reads the firing alerts from Prometheus, so each page becomes an incident to
claim and resolve.  After ``--fault-after`` seconds it
stops the demo database so a page is seen, then starts it again for the
resolved notification.  At the end (Ctrl-C, or --exit-after-resolve) it
writes the health report for the time it ran into ./demo-out/ (HTML, PDF,
JSON) and stops everything it started.
"""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import yaml

from devstack.alertmanager import ClusteredAlertmanager
from devstack.exporter import ExporterProcess
from devstack.notify import NotifyProcess
from devstack.ports import free_port
from devstack.postgres import PG_BIN, ThrowawayPostgres
from devstack.process import spawn, terminate, wait_http_ready
from devstack.prometheus import Prometheus
from devstack.rulefiles import shortened_rules
from devstack.webhook import WebhookSink
from exporters.registry import EXPORTERS
from scripts.demo_desk import PASSWORD as DESK_PASSWORD
from scripts.demo_desk import DemoDesk

REPO = Path(__file__).resolve().parents[1]
DEMO_DIR = REPO / "deploy" / "demo"
AREAS = tuple(EXPORTERS)  # one exporter process each: database, services, ...
SYSTEM = "demo"


def say(text: str) -> None:
    print(f"[demo {time.strftime('%H:%M:%S')}] {text}", flush=True)


def describe_page(notification) -> str:
    lines = []
    for alert in notification.alerts:
        labels, notes = alert.get("labels", {}), alert.get("annotations", {})
        if labels.get("alertname") == "Watchdog":
            continue
        if notification.path.endswith("/ticket"):  # tickets: one line each
            lines.append(
                f"ticket [{alert.get('status', '?').upper()}] {labels.get('alertname')} "
                f"{notes.get('summary', '')}"
            )
            continue
        lines.append(
            f"PAGE to /{notification.path.lstrip('/')} [{alert.get('status', '?').upper()}] "
            f"{labels.get('alertname')} severity={labels.get('severity')} "
            f"system={labels.get('system', '-')} "
            + " ".join(
                f"{k}={v}"
                for k, v in labels.items()
                if k in ("database", "service", "integration", "exchange", "backup")
            )
            + f"\n      {notes.get('summary', '')}\n      runbook: {notes.get('runbook_url', '')}"
        )
    return "\n".join(lines)


# -- the demo system ---------------------------------------------------------------------


def demo_config(workdir: Path, pg: ThrowawayPostgres, app_url: str) -> Path:
    """aftercare.yml for the demo system: every area, all on loopback."""
    path = workdir / "aftercare.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "defaults": {
                    "timeout": "3s",
                    "state_dir": str(workdir / "state"),
                    "timezone": "UTC",
                },
                "systems": [
                    {
                        "name": SYSTEM,
                        "customer": "Demo customer",
                        "sla": {"availability": 0.999, "response_time": "2s"},
                        "databases": [
                            {
                                "name": "demo-pg",
                                "type": "postgresql",
                                "dsn": pg.dsn(dbname="postgres"),
                                "log": {"path": str(pg.log_path)},
                            }
                        ],
                        "services": [
                            {
                                "name": "demo-web",
                                "http": {"url": f"{app_url}/health", "expect_status": [200]},
                            },
                            {
                                "name": "demo-slow",
                                "http": {"url": f"{app_url}/slow", "expect_status": [200]},
                            },
                        ],
                        "logs": [
                            {
                                "source": "demo-app",
                                "path": str(workdir / "logs" / "app.log"),
                                "levels": {"error": "ERROR", "warning": "WARN"},
                            },
                            {
                                "source": "demo-access",
                                "path": str(workdir / "logs" / "access.log"),
                                "format": "combined",
                            },
                        ],
                        "integrations": [
                            {"name": "demo-app-port", "tcp": {"address": app_url.split("//")[1]}}
                        ],
                        "exchange": [
                            {
                                "name": "demo-upload",
                                "schedule": "* * * * *",
                                "max_duration": "1m",
                                "grace": "2m",
                                "outbox": {"path": str(workdir / "outbox"), "pattern": "*.xml"},
                            }
                        ],
                        "backups": [
                            {
                                "name": "demo-dump",
                                "path": str(workdir / "backups" / "demo-*.dump"),
                                "schedule": "0 * * * *",
                                "min_size": "1KiB",
                                "verify": "pg_restore",
                            }
                        ],
                    }
                ],
            },
            sort_keys=False,
        )
    )
    for sub in ("logs", "outbox", "backups", "state"):
        (workdir / sub).mkdir(exist_ok=True)
    return path


def seed(pg: ThrowawayPostgres) -> None:
    """Tables for the demo system (the same as deploy/demo/seed.sql)."""
    conn = pg.connect()
    with conn.cursor() as cur:
        cur.execute((DEMO_DIR / "seed.sql").read_text())
    conn.close()


class Traffic:
    """Orders placed and read every half second while the demo runs (errors during the fault
    ignored)."""

    def __init__(self, pg: ThrowawayPostgres) -> None:
        self.pg = pg
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-traffic", daemon=True)

    def _run(self) -> None:
        conn = None
        while not self._stop.wait(0.5):
            try:
                conn = conn or self.pg.connect()
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO orders SELECT max(id) + 1, now(), 'demo' FROM orders")
                    cur.execute(
                        "SELECT count(*) FROM orders WHERE placed > now() - interval '1 hour'"
                    )
            except Exception:  # noqa: BLE001 - the database may be down: that is the demo's fault
                conn = None

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)


class DemoApp:
    """deploy/demo/app.py as a subprocess on a free loopback port."""

    def __init__(self, workdir: Path, dsn: str) -> None:
        self.workdir, self.dsn = workdir, dsn
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DemoApp:
        log = self.workdir / "logs" / "app.stderr"
        self.process = spawn(
            [
                sys.executable,
                str(DEMO_DIR / "app.py"),
                "--listen",
                f"127.0.0.1:{self.port}",
                "--dsn",
                self.dsn,
                "--log",
                str(self.workdir / "logs" / "app.log"),
                "--access-log",
                str(self.workdir / "logs" / "access.log"),
            ],
            log,
        )
        wait_http_ready(self.process, f"{self.url}/health", 15, log, "demo app")
        return self

    def stop(self) -> None:
        terminate(self.process)

    def __enter__(self) -> DemoApp:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def run_job(config: Path, workdir: Path, fail: bool = False) -> int:
    """One run of the demo data-exchange job through aftercare-job; its exit code."""
    command = (
        ["sh", "-c", "echo upload refused >&2; exit 3"]
        if fail
        else ["sh", str(DEMO_DIR / "upload.sh"), str(workdir / "outbox")]
    )
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "exporters.jobcli",
            "run",
            "--config.file",
            str(config),
            "--job",
            "demo-upload",
            "--",
            *command,
        ],
        cwd=REPO,
        capture_output=True,
        timeout=60,
    ).returncode


def take_backup(pg: ThrowawayPostgres, workdir: Path) -> Path:
    """pg_dump -Fc of the demo database, written under a temporary name and renamed."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
    partial, final = (
        workdir / "backups" / f".demo-{stamp}.partial",
        workdir / "backups" / f"demo-{stamp}.dump",
    )
    subprocess.run(
        [
            str(PG_BIN / "pg_dump"),
            "-h",
            "127.0.0.1",
            "-p",
            str(pg.port),
            "-U",
            "postgres",
            "-Fc",
            "-f",
            str(partial),
            "postgres",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    partial.rename(final)
    return final


def alertmanager_pair(
    pager: WebhookSink,
    timings: dict[str, str],
    peer_timeout: str = "15s",
    paths: tuple[str, str] = ("", ""),
) -> list[ClusteredAlertmanager]:
    """Two unstarted Alertmanagers with the project's config, peered with each other."""
    text = (REPO / "alertmanager" / "alertmanager.yml").read_text()
    ports = [free_port(), free_port()]
    return [
        ClusteredAlertmanager(
            text,
            ports[i],
            [ports[1 - i]],
            peer_timeout=peer_timeout,
            webhook_address=pager.address + paths[i],
            timings=timings,
            config_dir=REPO / "alertmanager",
        )
        for i in range(2)
    ]


def notify_config(config: Path, pager: WebhookSink) -> Path:
    """The demo's aftercare.yml plus the channels alertmanager.yml names: pages are printed
    (console), the Watchdog heartbeat goes on to the pager sink the demo watches."""
    doc = yaml.safe_load(config.read_text())
    (config.parent / "watchdog.url").write_text(pager.url_for("/watchdog"))
    doc["notify"] = {
        "channels": [
            {"name": "oncall", "type": "console"},
            {"name": "ticket", "type": "console"},
            {
                "name": "watchdog",
                "type": "webhook",
                "url_file": "watchdog.url",
                "dedup_window": "5s",
            },
        ]
    }
    path = config.parent / "aftercare-notify.yml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    return path


def write_report(
    prometheus_url: str,
    config: Path,
    start: float,
    end: float,
    out: Path,
    formats: str = "html,pdf,json,docx",
    lang: str = "en",
) -> subprocess.CompletedProcess:
    """aftercare-report for [start, end] (RFC 3339 times) into out."""
    iso = lambda t: dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="seconds")  # noqa: E731
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "reportgen.cli",
            "--prometheus",
            prometheus_url,
            "--config.file",
            str(config),
            "--from",
            iso(start),
            "--to",
            iso(end),
            "--format",
            formats,
            "--lang",
            lang,
            "--out",
            str(out),
            "--no-previous",
            "--quiet",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


# -- the demo ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fault-after",
        type=float,
        default=60.0,
        help="seconds before the demo database is stopped (default 60)",
    )
    parser.add_argument(
        "--pending",
        default="15s",
        help="the alerts' `for`, shortened so the demo pages quickly (default 15s)",
    )
    parser.add_argument(
        "--exit-after-resolve",
        action="store_true",
        help="stop once the resolved notification arrived (for automated runs)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("demo-out"),
        help="where the health report is written (default ./demo-out)",
    )
    parser.add_argument(
        "--job-every",
        type=float,
        default=30.0,
        help="seconds between runs of the demo data-exchange job (default 30)",
    )
    args = parser.parse_args(argv)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    started = time.time()

    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="aftercare-demo-") as tmp:
        workdir = Path(tmp)
        say("starting the demo system: a throwaway PostgreSQL cluster, the web app, traffic ...")
        pg = stack.enter_context(ThrowawayPostgres())
        seed(pg)
        app = DemoApp(workdir, pg.dsn())
        config = demo_config(workdir, pg, f"http://127.0.0.1:{app.port}")
        stack.enter_context(app)
        stack.enter_context(Traffic(pg))
        say(
            f"demo backup (pg_dump): {take_backup(pg, workdir).name}; "
            f"demo data-exchange job via aftercare-job: exit {run_job(config, workdir)}"
        )
        exporters = [stack.enter_context(ExporterProcess(area, config)) for area in AREAS]
        pager = stack.enter_context(WebhookSink())
        notify = stack.enter_context(NotifyProcess(notify_config(config, pager)))
        pair = alertmanager_pair(
            notify,
            {"group_wait": "5s", "group_interval": "10s"},
            peer_timeout="5s",
            paths=("/notify", "/notify"),
        )
        for am in pair:
            stack.callback(am.close)
            am.start()
        prometheus = stack.enter_context(
            Prometheus(
                scrape_configs=[
                    {"job_name": f"aftercare-{area}", "static_configs": [{"targets": [e.address]}]}
                    for area, e in zip(AREAS, exporters, strict=True)
                ],
                rule_files=shortened_rules(workdir / "rules", args.pending),
                alertmanagers=[am.address for am in pair],
                scrape_interval="5s",
                evaluation_interval="5s",
                scrape_self=True,
            )
        )
        desk = stack.enter_context(DemoDesk(workdir, prometheus.url))
        say("up and running:")
        print(
            "".join(
                f"    exporter {area:<13}{e.url}/metrics\n"
                for area, e in zip(AREAS, exporters, strict=True)
            )
            + f"    Prometheus    {prometheus.url}/alerts\n"
            f"    Alertmanager  {pair[0].url} and {pair[1].url} (an HA pair)\n"
            f"    aftercare-notify {notify.url}/metrics (pages printed below)\n"
            f"    demo web app  {app.url}/health  {app.url}/slow  {app.url}/orders\n"
            f"    demo database {pg.dsn()}\n"
            f"    config        {config}\n"
            f"    desk          {desk.url}  (log in as engineer or customer, "
            f"password {DESK_PASSWORD})\n"
            f"  Alerts wait {args.pending} (their `for`, shortened for the demo). "
            f"Ctrl-C stops everything and writes the report.",
            flush=True,
        )

        printed, fault_at, restarted = 0, time.monotonic() + args.fault_after, False
        heartbeat, next_job = False, time.monotonic() + args.job_every
        paged = 0  # how much of aftercare-notify's output is shown
        say(f"in {args.fault_after:.0f}s the demo database will be stopped to show a page")
        try:
            while not stop["now"]:
                received = pager.received()
                for notification in received[printed:]:
                    if notification.path == "/watchdog":
                        if not heartbeat:
                            say(
                                "Watchdog heartbeat received: the alerting pipeline works end "
                                "to end"
                            )
                            heartbeat = True
                        continue
                    print(describe_page(notification), flush=True)
                    desk.forward(notification.raw)
                    down = [
                        a
                        for a in notification.alerts
                        if a["labels"].get("alertname") == "AftercareDatabaseDown"
                    ]
                    if down and down[0].get("status") == "firing" and not restarted:
                        say("page received; starting the demo database again")
                        pg.start()
                        restarted = True
                    elif down and down[0].get("status") == "resolved" and args.exit_after_resolve:
                        stop["now"] = True
                printed = len(received)
                pages = notify.stdout_text()
                if len(pages) > paged:
                    print(pages[paged:], end="", flush=True)
                    if "【告警】AftercareDatabaseDown" in pages[paged:] and not restarted:
                        say("page received; starting the demo database again")
                        pg.start()
                        restarted = True
                    elif (
                        "【已恢复】AftercareDatabaseDown" in pages[paged:]
                        and args.exit_after_resolve
                    ):
                        stop["now"] = True
                    paged = len(pages)
                if fault_at and time.monotonic() >= fault_at:
                    say("FAULT: stopping the demo database")
                    pg.stop()
                    fault_at = 0
                if time.monotonic() >= next_job:
                    run_job(config, workdir)
                    next_job = time.monotonic() + args.job_every
                time.sleep(0.5)
        except KeyboardInterrupt:
            say("Ctrl-C")
        for number, alertname, system, status in desk.incidents():
            print(f"    desk incident #{number} {alertname} system={system} ({status})", flush=True)
        say(
            f"writing the health report for {time.time() - started:.0f}s of demo into "
            f"{args.out}/ ..."
        )
        try:
            result = write_report(prometheus.url, config, started, time.time(), args.out)
            if result.returncode == 0:
                for path in sorted(args.out.resolve().glob("aftercare-report-*")):
                    print(f"    report  {path}", flush=True)
            else:
                say(f"the report failed (exit {result.returncode}): {result.stderr.strip()[-500:]}")
        except KeyboardInterrupt:
            say("report skipped")
        say("stopping everything the demo started ...")
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
