"""Alerting end to end, one real fault per area, in one Prometheus and one
Alertmanager: fault in a real component -> the `all` exporter -> Prometheus
(the project's rules, `for` shortened) -> Alertmanager (the project's
routing) -> the webhook sink gets exactly the expected notification, with its
runbook_url -> the fault is repaired -> a resolved notification.

Faults: a throwaway PostgreSQL stops (database), an HTTP service turns slower
than its system's SLA (services), the application's log file disappears
(logs), a TCP peer stops listening (integrations), a data-exchange job fails
(exchange), the newest backup is older than its schedule allows (backups).

Then: a warning outside business hours is held, not sent (a time interval
that puts "now" outside it), while a critical is paged at once.

Prints the fault -> page latency per area."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from devstack import REPO_ROOT
from devstack.rulefiles import shortened_rules
from devstack.waiting import wait_until
from devstack.webhook import firing, resolved
from scripts import gen_rules

PENDING = "5s"  # every rule's `for`, shortened
SCRAPE = "2s"  # scrape interval (and timeout): the exporter answers within 1.5 s
SLA = 0.3  # the system's sla.response_time, seconds
SLOW = 0.6  # the service's answer time during the fault
RUNBOOK_BASE = "https://github.com/aftercare/aftercare/blob/main/docs/runbooks/"
SYSTEM = "shop"


class SlowableService:
    """A real HTTP service on loopback whose answers can be made slow."""

    def __init__(self) -> None:
        self.delay = 0.0
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                time.sleep(service.delay)
                body = b"ok\n"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/health"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class TcpPeer:
    """A listening TCP port that can be closed and reopened on the same port."""

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.port = 0
        self.open()

    def open(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(16)
        self.port = sock.getsockname()[1]
        self.sock = sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def always_business_hours(config_text: str) -> str:
    """The project's alertmanager.yml with business hours covering every minute of every day."""
    config = yaml.safe_load(config_text)
    (interval,) = [t for t in config["time_intervals"] if t["name"] == "business-hours"]
    interval["time_intervals"] = [
        {"times": [{"start_time": "00:00", "end_time": "24:00"}], "location": "Asia/Shanghai"}
    ]
    return yaml.safe_dump(config, sort_keys=False, allow_unicode=True)


def run_job(config: Path, job: str, command: str) -> None:
    """Record one run of a data-exchange job through aftercare-job."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "exporters.jobcli",
            "run",
            "--config.file",
            str(config),
            "--job",
            job,
            "--",
            command,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == (0 if command == "true" else 1), result.stderr


def age(path: Path, seconds: float) -> None:
    """Set the file's modification time `seconds` into the past."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_one_fault_per_area_pages_then_resolves(
    tmp_path, throwaway_pg, exporter_factory, prometheus_factory, alertmanager_factory, webhook_sink
):
    service, peer = SlowableService(), TcpPeer()
    logs = tmp_path / "logs"
    logs.mkdir()
    app_log = logs / "app.log"
    app_log.write_text("INFO started\n")
    backups = tmp_path / "backups"
    backups.mkdir()
    first_backup = backups / "shop-1.dump"
    first_backup.write_bytes(b"x" * 2048)
    age(first_backup, 120)  # complete, made 2 minutes ago
    cfg = tmp_path / "aftercare.yml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "defaults": {
                    "timeout": "1s",
                    "state_dir": str(tmp_path / "state"),
                    "timezone": "Asia/Shanghai",
                },
                "systems": [
                    {
                        "name": SYSTEM,
                        "sla": {"response_time": f"{int(SLA * 1000)}ms"},
                        "databases": [
                            {"name": "shop-pg", "type": "postgresql", "dsn": throwaway_pg.dsn()}
                        ],
                        "services": [{"name": "shop-web", "http": {"url": service.url}}],
                        "logs": [
                            {
                                "source": "shop-app",
                                "path": str(logs / "*.log"),
                                "levels": {"error": "ERROR"},
                            }
                        ],
                        "integrations": [
                            {"name": "shop-mq", "tcp": {"address": f"127.0.0.1:{peer.port}"}}
                        ],
                        "exchange": [{"name": "shop-upload", "schedule": "0 2 * * *"}],
                        "backups": [
                            {
                                "name": "shop-nightly",
                                "path": str(backups / "*.dump"),
                                "schedule": "* * * * *",
                                "grace": "10m",
                            }
                        ],
                    }
                ],
            }
        )
    )
    rules_dir = tmp_path / "rules"
    rule_files = shortened_rules(rules_dir, PENDING)
    assert (
        gen_rules.main(
            ["--config.file", str(cfg), "--out", str(rules_dir / "services.sla.rules.yml")]
        )
        == 0
    )
    try:
        exporter = exporter_factory("all", cfg)
        alertmanager = alertmanager_factory(
            always_business_hours((REPO_ROOT / "alertmanager" / "alertmanager.yml").read_text()),
            path=None,
            config_dir=REPO_ROOT / "alertmanager",
        )
        prometheus = prometheus_factory(
            scrape_configs=[
                {
                    "job_name": "aftercare-all",
                    "scrape_interval": SCRAPE,
                    "scrape_timeout": SCRAPE,
                    "static_configs": [{"targets": [exporter.address]}],
                }
            ],
            rule_files=rule_files,
            alertmanagers=[alertmanager.address],
        )
        run_job(cfg, "shop-upload", "true")  # one good run: the failure counter starts at 0
        baseline = {
            "database": 'aftercare_database_up{database="shop-pg"} == 1',
            "services": f'aftercare:service_response_seconds:avg5m{{service="shop-web"}} < {SLA}',
            "logs": 'aftercare_log_files{source="shop-app"} == 1',
            "integrations": 'aftercare_integration_up{integration="shop-mq"} == 1',
            "exchange": (
                'aftercare_exchange_runs_total{exchange="shop-upload",result="failure"} == 0'
            ),
            "backups": (
                'time() < aftercare_backup_deadline_timestamp_seconds{backup="shop-nightly"}'
            ),
        }
        for area, query in baseline.items():
            wait_until(
                lambda query=query: prometheus.query(query),
                45,
                what=f"{area} healthy in Prometheus",
            )
        time.sleep(4)  # a few more healthy samples in every window
        assert not [n for n in webhook_sink.received() if n.path != "/watchdog"], [
            n.body for n in webhook_sink.received()
        ]

        # --- one fault per area, all at once -----------------------------------------------
        faults = {
            "database": lambda: throwaway_pg.stop(),
            "services": lambda: setattr(service, "delay", SLOW),
            "logs": lambda: app_log.unlink(),
            "integrations": lambda: peer.close(),
            "exchange": lambda: run_job(cfg, "shop-upload", "false"),
            "backups": lambda: age(first_backup, 3600),
        }
        expected = {  # area -> (receiver path, alertname, target labels)
            "database": ("/oncall", "AftercareDatabaseDown", {"database": "shop-pg"}),
            "services": ("/oncall", "AftercareServiceSlow", {"service": "shop-web"}),
            "logs": ("/ticket", "AftercareLogSourceMissing", {"source": "shop-app"}),
            "integrations": ("/oncall", "AftercareIntegrationDown", {"integration": "shop-mq"}),
            "exchange": ("/ticket", "AftercareExchangeFailed", {"exchange": "shop-upload"}),
            "backups": ("/ticket", "AftercareBackupMissing", {"backup": "shop-nightly"}),
        }
        fault_at = {}
        for area, inject in faults.items():
            inject()
            fault_at[area] = time.monotonic()

        latency = {}
        for area, (path, name, labels) in expected.items():
            page = webhook_sink.wait_for(
                firing(name, system=SYSTEM, **labels), timeout=75, path=path
            )
            latency[area] = page.received_at - (time.time() - (time.monotonic() - fault_at[area]))
            alert = next(a for a in page.alerts if a["labels"]["alertname"] == name)
            severity = "critical" if path == "/oncall" else "warning"
            assert alert["labels"]["severity"] == severity, alert["labels"]
            assert alert["labels"]["area"] == area, alert["labels"]
            assert alert["annotations"]["runbook_url"] == f"{RUNBOOK_BASE}{name}.md"
            assert (REPO_ROOT / "docs" / "runbooks" / f"{name}.md").is_file()
            assert SYSTEM in alert["annotations"]["summary"] and alert["annotations"]["summary_zh"]

        # Exactly these: no other page or ticket was sent for the system (the
        # database's own other alerts are inhibited by AftercareDatabaseDown, the
        # services' warning by the same alert's critical).
        sent = sorted(
            {
                (n.path, a["labels"]["alertname"], a["labels"]["severity"])
                for n in webhook_sink.received()
                if n.path != "/watchdog"
                for a in n.alerts
                if a["status"] == "firing"
            }
        )
        assert sent == sorted(
            (path, name, "critical" if path == "/oncall" else "warning")
            for path, name, _ in expected.values()
        ), sent

        # --- repair everything -------------------------------------------------------------
        new_backup = backups / "shop-2.dump"
        new_backup.write_bytes(b"y" * 2048)
        age(new_backup, 90)  # finished 90 s ago: counts at first look
        repairs = {
            "database": lambda: throwaway_pg.start(),
            "services": lambda: setattr(service, "delay", 0.0),
            "logs": lambda: app_log.write_text("INFO back\n"),
            "integrations": lambda: peer.open(),
            "exchange": lambda: run_job(cfg, "shop-upload", "true"),
            "backups": lambda: None,
        }
        for repair in repairs.values():
            repair()
        for path, name, labels in expected.values():
            webhook_sink.wait_for(resolved(name, system=SYSTEM, **labels), timeout=75, path=path)
    finally:
        service.close()
        peer.close()

    print(f"\nfault -> page latency, for={PENDING}, scrape {SCRAPE}, evaluation 1s, group_wait 1s:")
    for area, seconds in latency.items():
        print(f"  {area:<13} {expected[area][1]:<28} {seconds:5.1f}s")
    # `for` + scrape + evaluation + group_wait: well under the per-area bound
    # (services needs the 5-minute mean over the SLA: slow samples outnumbering fast ones).
    assert all(seconds < 60 for seconds in latency.values()), latency


def test_warning_outside_business_hours_is_held(alertmanager_factory, webhook_sink):
    """A business-hours window that excludes today: the warning is not sent, the critical is."""
    today = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8)))
    other_day = (today + dt.timedelta(days=3)).strftime("%A").lower()
    config = yaml.safe_load((REPO_ROOT / "alertmanager" / "alertmanager.yml").read_text())
    (interval,) = [t for t in config["time_intervals"] if t["name"] == "business-hours"]
    interval["time_intervals"][0]["weekdays"] = [other_day]  # location stays Asia/Shanghai
    alertmanager = alertmanager_factory(
        yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
        config_dir=REPO_ROOT / "alertmanager",
    )
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def alert(name: str, severity: str) -> dict:
        return {
            "labels": {
                "alertname": name,
                "severity": severity,
                "system": SYSTEM,
                "area": "backups",
                "backup": "shop-nightly",
            },
            "annotations": {"summary": name, "runbook_url": f"{RUNBOOK_BASE}{name}.md"},
            "startsAt": now,
        }

    alertmanager.post_alerts(
        [
            alert("AftercareBackupMissing", "warning"),
            alert("AftercareBackupLocationDown", "critical"),
        ]
    )
    webhook_sink.wait_for(firing("AftercareBackupLocationDown"), timeout=20, path="/oncall")
    time.sleep(4)  # several group_interval (1s) flushes of the warning's group
    assert webhook_sink.received("/ticket") == []
    # held, not dropped: still active in Alertmanager, waiting for business hours
    active = [a["labels"]["alertname"] for a in alertmanager.alerts(active=True)]
    assert "AftercareBackupMissing" in active, active
