"""The project's exporter CLI run as a real subprocess on a free loopback port."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

from . import REPO_ROOT
from .process import LocalServer, spawn, terminate


class ExporterProcess(LocalServer):
    """``python -m exporters.cli AREA --config.file F --web.listen-address 127.0.0.1:P``."""

    def __init__(
        self,
        area: str,
        config_file: str | Path,
        extra: Sequence[str] = (),
        env: dict[str, str] | None = None,
        startup_timeout: float = 15.0,
        scheme: str = "http",
        **request_args: Any,
    ) -> None:
        """Prepare; nothing runs until start() or entering the context.

        request_args (e.g. auth=, verify=) are passed to every HTTP request the stack makes,
        for exporters started with --web.config.file.
        """
        self.area = area
        self.name = f"exporter {area}"
        self.config_file = Path(config_file).resolve()
        self.extra = list(extra)
        self.env = {"PYTHONUNBUFFERED": "1", **(env or {})}
        self.scheme = scheme
        self.request_args = request_args
        super().__init__("aftercare-exporter-", startup_timeout)
        self.stdout_path = self.dir / "stdout.log"
        self.stderr_path = self.dir / "stderr.log"

    @property
    def url(self) -> str:
        """Base URL, without a trailing slash."""
        return f"{self.scheme}://{self.address}"

    def command(self) -> list[str]:
        """The argv the exporter is started with."""
        return [
            sys.executable,
            "-m",
            "exporters.cli",
            self.area,
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

    def ready_args(self) -> dict:
        return self.request_args

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """GET a path on the exporter."""
        return requests.get(
            f"{self.url}/{path.lstrip('/')}",
            timeout=kwargs.pop("timeout", 30),
            **{**self.request_args, **kwargs},
        )

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        """POST to a path on the exporter (e.g. /-/reload)."""
        return requests.post(
            f"{self.url}/{path.lstrip('/')}",
            timeout=kwargs.pop("timeout", 30),
            **{**self.request_args, **kwargs},
        )

    def metrics_text(self) -> str:
        """GET /metrics and return the exposition text; raise on a non-200 answer."""
        response = self.get("/metrics")
        response.raise_for_status()
        return response.text

    def samples(self) -> list[tuple[str, dict[str, str], float]]:
        """Parse /metrics into (name, labels, value) tuples."""
        from prometheus_client.parser import text_string_to_metric_families

        return [
            (s.name, dict(s.labels), s.value)
            for family in text_string_to_metric_families(self.metrics_text())
            for s in family.samples
        ]

    def stdout_text(self) -> str:
        """Everything the exporter wrote to stdout so far."""
        return self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""

    def stderr_text(self) -> str:
        """Everything the exporter wrote to stderr so far (its log)."""
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def send_signal(self, sig: int = signal.SIGHUP) -> None:
        """Send a signal to the exporter (SIGHUP reloads the config)."""
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError("exporter is not running")
        self.process.send_signal(sig)

    def stop(self, grace: float = 5.0) -> int | None:
        """SIGTERM, SIGKILL after grace seconds; return the exit code (kept in ``returncode``)."""
        return terminate(self.process, grace)

    @property
    def returncode(self) -> int | None:
        """The exit code, or None while running / before start."""
        return None if self.process is None else self.process.poll()
