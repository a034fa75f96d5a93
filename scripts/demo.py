"""make demo: the native stack watching a throwaway demo system of its own.

Starts a throwaway PostgreSQL cluster (never the user's databases), the
exporter, Prometheus with the project's rules, Alertmanager with the
project's routing, and a webhook pager that prints every page.  After
``--fault-after`` seconds it stops the demo database so a page is seen, then
starts it again for the resolved notification.  Ctrl-C stops everything.
"""
from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import yaml

from tests.harness.alertmanager import Alertmanager
from tests.harness.exporter import ExporterProcess
from tests.harness.postgres import ThrowawayPostgres
from tests.harness.prometheus import Prometheus
from tests.harness.rulefiles import shortened_rules
from tests.harness.webhook import WebhookSink

REPO = Path(__file__).resolve().parents[1]


def say(text: str) -> None:
    print(f"[demo {time.strftime('%H:%M:%S')}] {text}", flush=True)


def describe_page(notification) -> str:
    lines = []
    for alert in notification.alerts:
        labels, notes = alert.get("labels", {}), alert.get("annotations", {})
        if labels.get("alertname") == "Watchdog":
            continue
        lines.append(f"PAGE to /{notification.path.lstrip('/')} [{alert.get('status', '?').upper()}] "
                     f"{labels.get('alertname')} severity={labels.get('severity')} "
                     f"system={labels.get('system', '-')} "
                     + " ".join(f"{k}={v}" for k, v in labels.items()
                                if k in ("database", "service", "integration", "exchange", "backup"))
                     + f"\n      {notes.get('summary', '')}\n      runbook: {notes.get('runbook_url', '')}")
    return "\n".join(lines)


def demo_config(workdir: Path, pg: ThrowawayPostgres) -> Path:
    path = workdir / "aftercare.yml"
    path.write_text(yaml.safe_dump({
        "defaults": {"timeout": "3s", "state_dir": str(workdir / "state")},
        "systems": [{"name": "demo", "customer": "Demo customer",
                     "databases": [{"name": "demo-pg", "type": "postgresql",
                                    "dsn": pg.dsn(dbname="postgres")}]}],
    }, sort_keys=False))
    return path


def seed(pg: ThrowawayPostgres) -> None:
    conn = pg.connect()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS orders AS SELECT g AS id, now() AS placed, "
                    "repeat('o', 100) AS note FROM generate_series(1, 20000) g")
    conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.splitlines()[0])
    parser.add_argument("--fault-after", type=float, default=60.0,
                        help="seconds before the demo database is stopped (default 60)")
    parser.add_argument("--pending", default="15s",
                        help="the alerts' `for`, shortened so the demo pages quickly (default 15s)")
    parser.add_argument("--exit-after-resolve", action="store_true",
                        help="stop once the resolved notification arrived (for automated runs)")
    args = parser.parse_args(argv)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))

    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="aftercare-demo-") as tmp:
        workdir = Path(tmp)
        say("starting a throwaway PostgreSQL cluster for the demo system ...")
        pg = stack.enter_context(ThrowawayPostgres())
        seed(pg)
        config = demo_config(workdir, pg)
        exporter = stack.enter_context(ExporterProcess("all", config))
        pager = stack.enter_context(WebhookSink())
        alertmanager = stack.enter_context(Alertmanager.from_file(
            REPO / "alertmanager" / "alertmanager.yml", webhook_address=pager.address,
            timings={"group_wait": "5s", "group_interval": "10s"}))
        prometheus = stack.enter_context(Prometheus(
            scrape_configs=[{"job_name": "aftercare", "static_configs": [{"targets": [exporter.address]}]}],
            rule_files=shortened_rules(workdir / "rules", args.pending),
            alertmanagers=[alertmanager.address], scrape_interval="5s", evaluation_interval="5s"))
        say("up and running:")
        print(f"    exporter      {exporter.url}/metrics\n"
              f"    Prometheus    {prometheus.url}/alerts\n"
              f"    Alertmanager  {alertmanager.url}\n"
              f"    pager (webhook sink printing pages) {pager.url_for('/oncall')}\n"
              f"    demo database {pg.dsn()}\n"
              f"    config        {config}\n"
              f"  Alerts wait {args.pending} (their `for`, shortened for the demo). "
              f"Ctrl-C stops everything.", flush=True)

        printed, fault_at, restarted = 0, time.monotonic() + args.fault_after, False
        heartbeat = False
        say(f"in {args.fault_after:.0f}s the demo database will be stopped to show a page")
        try:
            while not stop["now"]:
                received = pager.received()
                for notification in received[printed:]:
                    if notification.path == "/watchdog":
                        if not heartbeat:
                            say("Watchdog heartbeat received: the alerting pipeline works end to end")
                            heartbeat = True
                        continue
                    print(describe_page(notification), flush=True)
                    down = [a for a in notification.alerts
                            if a["labels"].get("alertname") == "AftercareDatabaseDown"]
                    if down and down[0].get("status") == "firing" and not restarted:
                        say("page received; starting the demo database again")
                        pg.start()
                        restarted = True
                    elif down and down[0].get("status") == "resolved" and args.exit_after_resolve:
                        stop["now"] = True
                printed = len(received)
                if fault_at and time.monotonic() >= fault_at:
                    say("FAULT: stopping the demo database")
                    pg.stop()
                    fault_at = 0
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        say("stopping everything the demo started ...")
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
