"""The demo's maintenance desk: aftercare-desk on SQLite in the demo's directory, fed with
every page the demo's Alertmanager pair sends and by its own read of Prometheus."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import requests

from devstack.ports import free_port
from devstack.process import spawn, terminate, wait_http_ready

TOKEN = "demo-intake-token"
PASSWORD = "aftercare-demo"
CONFIG = """\
database: sqlite:///{db}
intake_token_file: intake.token
prometheus_url: {prometheus}
prometheus_poll_interval: 5s
customers:
  demo-customer: {{name: Demo customer, systems: [demo]}}
deadlines:
  critical: {{acknowledge: 5m, resolve: 1h}}
accounts:
  engineer: {{role: engineer, password_file: demo.pass}}
  customer: {{role: customer, customer: demo-customer, password_file: demo.pass}}
"""


class DemoDesk:
    """aftercare-desk migrate, then serve, on a free loopback port; use as a context manager."""

    def __init__(self, workdir: Path, prometheus_url: str) -> None:
        self.dir = workdir / "desk"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db = self.dir / "desk.db"
        self.config = self.dir / "desk.yml"
        (self.dir / "intake.token").write_text(TOKEN + "\n")
        (self.dir / "demo.pass").write_text(PASSWORD + "\n")
        self.config.write_text(CONFIG.format(db=self.db, prometheus=prometheus_url))
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _cli(self) -> list[str]:
        return [sys.executable, "-m", "desk.cli", "--config.file", str(self.config)]

    def __enter__(self) -> DemoDesk:
        result = subprocess.run(
            self._cli() + ["migrate"], capture_output=True, text=True, timeout=120
        )
        if result.returncode != 0:
            raise RuntimeError(f"aftercare-desk migrate failed: {result.stderr.strip()}")
        log = self.dir / "desk.stderr"
        self.process = spawn(
            self._cli() + ["serve", "--web.listen-address", f"127.0.0.1:{self.port}"], log
        )
        wait_http_ready(self.process, f"{self.url}/-/ready", 30, log, "desk")
        return self

    def __exit__(self, *exc) -> None:
        terminate(self.process)

    def forward(self, body: bytes) -> None:
        """Hand a page's webhook body to the desk's intake, as a notifier would."""
        try:
            requests.post(
                f"{self.url}/intake/alertmanager",
                data=body,
                timeout=10,
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            )
        except requests.RequestException:
            pass  # the desk also reads Prometheus: the episode still arrives

    def incidents(self) -> list[tuple[int, str, str, str]]:
        """(id, alertname, system, status) of every incident, oldest first."""
        with sqlite3.connect(self.db) as conn:
            return conn.execute(
                "SELECT id, alertname, system, status FROM incidents ORDER BY id"
            ).fetchall()
