"""aftercare-notify run as a real subprocess on a free loopback port."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import requests

from . import REPO_ROOT
from .process import LocalServer, spawn


class NotifyProcess(LocalServer):
    """``python -m exporters.notify.cli --config.file F --web.listen-address 127.0.0.1:P``."""

    name = "aftercare-notify"

    def __init__(
        self,
        config_file: str | Path,
        extra: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        startup_timeout: float = 15.0,
    ) -> None:
        self.config_file = Path(config_file).resolve()
        self.extra = list(extra)
        self.env = {"PYTHONUNBUFFERED": "1", **(env or {})}
        super().__init__("aftercare-notify-", startup_timeout)
        self.stdout_path = self.dir / "stdout.log"
        self.stderr_path = self.dir / "stderr.log"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "exporters.notify.cli",
            "--config.file",
            str(self.config_file),
            "--web.listen-address",
            self.address,
            *self.extra,
        ]

    def spawn(self) -> subprocess.Popen:
        return spawn(
            self.command(),
            self.stdout_path,
            env=self.env,
            cwd=REPO_ROOT,
            stderr_path=self.stderr_path,
        )

    def ready_log(self) -> Path:
        return self.stderr_path

    def kill(self) -> None:
        """SIGKILL: no chance to finish anything."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(5)
        self.process = None

    def post(self, channel: str, body, **kwargs) -> requests.Response:
        data = body if isinstance(body, (bytes, str)) else None
        json_body = None if data is not None else body
        return requests.post(
            f"{self.url}/notify/{channel}", data=data, json=json_body, timeout=10, **kwargs
        )

    def metrics_text(self) -> str:
        response = requests.get(f"{self.url}/metrics", timeout=10)
        response.raise_for_status()
        return response.text

    def metric(self, name: str, **labels: str) -> float:
        """The value of one sample (0 when absent)."""
        from prometheus_client.parser import text_string_to_metric_families

        for family in text_string_to_metric_families(self.metrics_text()):
            for s in family.samples:
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                    return s.value
        return 0.0

    def stderr_text(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def stdout_text(self) -> str:
        return self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""
