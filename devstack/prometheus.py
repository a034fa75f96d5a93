"""A real Prometheus server on a free loopback port, in its own temporary directory."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import requests
import yaml

from reportgen.prom import PromClient, PromError

from .process import LocalServer
from .waiting import wait_until

PROMETHEUS_BIN = "/usr/bin/prometheus"
PROMTOOL_BIN = "/usr/bin/promtool"

TimeArg = float | int | str | dt.datetime


class PrometheusError(PromError):
    """The Prometheus HTTP API answered with an error status."""


def _time_param(value: TimeArg) -> str:
    """Render a time for the Prometheus API (unix seconds or RFC 3339)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return f"{value.timestamp():.3f}"
    return str(value)


class Prometheus(LocalServer):
    """Prometheus 2.x started from a generated prometheus.yml; use as a context manager."""

    def __init__(
        self,
        scrape_configs: Sequence[dict[str, Any]] = (),
        rule_files: Iterable[str | Path] = (),
        alertmanagers: Iterable[str] = (),
        scrape_interval: str = "1s",
        evaluation_interval: str = "1s",
        extra_args: Sequence[str] = (),
        extra_config: dict[str, Any] | None = None,
        scrape_self: bool = False,
        resend_delay: str | None = "1s",
        startup_timeout: float = 30.0,
    ) -> None:
        """Prepare the temp dir; nothing runs until start() or entering the context.

        scrape_self adds a job "prometheus" scraping this server's own address. resend_delay sets
        --rules.alert.resend-delay (None keeps Prometheus's 1m): alerts that fire before the
        Alertmanager is discovered (~5 s after start) are dropped and only re-sent after it.
        """
        self.scrape_configs: list[dict[str, Any]] = [dict(c) for c in scrape_configs]
        self.rule_files: list[Path] = [Path(p).resolve() for p in rule_files]
        self.alertmanagers: list[str] = list(alertmanagers)
        self.scrape_interval = scrape_interval
        self.evaluation_interval = evaluation_interval
        self.extra_args = list(extra_args)
        self.extra_config = dict(extra_config or {})
        self.scrape_self = scrape_self
        self.resend_delay = resend_delay
        super().__init__("aftercare-prometheus-", startup_timeout)
        self.config_path = self.dir / "prometheus.yml"
        self.storage_path = self.dir / "data"
        self.storage_path.mkdir()

    # -- lifecycle -------------------------------------------------------------------------

    name = "prometheus"

    def config(self) -> dict[str, Any]:
        """The prometheus.yml content as a dict, built from the current attributes."""
        config: dict[str, Any] = {
            "global": {
                "scrape_interval": self.scrape_interval,
                "evaluation_interval": self.evaluation_interval,
            },
            "scrape_configs": list(self.scrape_configs),
        }
        if self.scrape_self:
            config["scrape_configs"].insert(
                0, {"job_name": "prometheus", "static_configs": [{"targets": [self.address]}]}
            )
        if self.rule_files:
            config["rule_files"] = [str(p) for p in self.rule_files]
        if self.alertmanagers:
            config["alerting"] = {
                "alertmanagers": [{"static_configs": [{"targets": self.alertmanagers}]}]
            }
        config.update(self.extra_config)
        return config

    def write_config(self) -> Path:
        """Write prometheus.yml from the current attributes; return its path."""
        self.config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        return self.config_path

    def prepare(self) -> None:
        self.write_config()

    def command(self) -> list[str]:
        return [
            PROMETHEUS_BIN,
            "--config.file",
            str(self.config_path),
            "--storage.tsdb.path",
            str(self.storage_path),
            "--web.listen-address",
            self.address,
            "--web.enable-lifecycle",
            *([f"--rules.alert.resend-delay={self.resend_delay}"] if self.resend_delay else []),
            *self.extra_args,
        ]

    def reload(self) -> None:
        """Rewrite prometheus.yml from the attributes and POST /-/reload; raise if it is refused."""
        self.write_config()
        response = requests.post(f"{self.url}/-/reload", timeout=10)
        if response.status_code != 200:
            raise PrometheusError(
                f"reload failed: HTTP {response.status_code}: {response.text.strip()}"
            )

    def backfill(self, openmetrics: str) -> None:
        """Write OpenMetrics text into the TSDB as blocks (promtool tsdb create-blocks-from
        openmetrics).

        Call before start(). Blocks older than the retention (15d unless extra_args set
        --storage.tsdb.retention.time) relative to the newest block are dropped by Prometheus.
        """
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("backfill() must run while Prometheus is stopped")
        if not openmetrics.rstrip().endswith("# EOF"):
            openmetrics = openmetrics.rstrip("\n") + "\n# EOF\n"
        source = self.dir / "backfill.om"
        source.write_text(openmetrics)
        result = subprocess.run(
            [
                PROMTOOL_BIN,
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                str(source),
                str(self.storage_path),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"promtool backfill failed ({result.returncode}): {result.stdout}{result.stderr}"
            )

    # -- HTTP API --------------------------------------------------------------------------

    @property
    def client(self) -> PromClient:
        """The HTTP API client for the current address (a restart may change the port)."""
        client = getattr(self, "_client", None)
        if client is None or client.url != self.url:
            client = self._client = PromClient(self.url, timeout=30, retries=0)
        return client

    def _call(self, method, *args, **kwargs) -> Any:
        """A PromClient method, its PromError raised as PrometheusError."""
        try:
            return method(*args, **kwargs)
        except PromError as err:
            raise PrometheusError(str(err)) from None

    def api(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET /api/v1/<path> and return its data; PrometheusError on an error status."""
        return self._call(self.client.api, path, **(params or {}))

    def query(self, expr: str, time: TimeArg | None = None) -> list:
        """Instant query; returns data.result (a list of samples for a vector)."""
        params: dict[str, Any] = {"query": expr}
        if time is not None:
            params["time"] = _time_param(time)
        return self.api("query", params)["result"]

    def query_range(
        self, expr: str, start: TimeArg, end: TimeArg, step: str | float = "1s"
    ) -> list:
        """Range query; returns data.result (a list of series with values)."""
        return self.api(
            "query_range",
            {
                "query": expr,
                "start": _time_param(start),
                "end": _time_param(end),
                "step": str(step),
            },
        )["result"]

    def targets(self) -> list[dict[str, Any]]:
        """The active targets (/api/v1/targets)."""
        return self._call(self.client.targets)

    def wait_for_targets_up(
        self, job: str | None = None, timeout: float = 30
    ) -> list[dict[str, Any]]:
        """Wait until at least one target (of job, if given) exists and all of them are up;
        return them."""

        def check() -> list[dict[str, Any]] | None:
            targets = [t for t in self.targets() if job is None or t["labels"].get("job") == job]
            if targets and all(t["health"] == "up" for t in targets):
                return targets
            return None

        return wait_until(
            check, timeout, interval=0.25, what=f"targets up (job={job!r}) at {self.url}"
        )

    def rules(self) -> list[dict[str, Any]]:
        """The loaded rule groups (/api/v1/rules)."""
        return self._call(self.client.rules)

    def alerts(self) -> list[dict[str, Any]]:
        """The active alerts (/api/v1/alerts): labels, annotations, state, activeAt, value."""
        return self._call(self.client.alerts)

    def wait_for_alert(
        self,
        name: str,
        state: str = "firing",
        timeout: float = 30,
        labels: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Wait until alert name is in state (pending/firing) with the given labels; return it."""
        wanted = dict(labels or {}, alertname=name)

        def check() -> dict[str, Any] | None:
            for alert in self.alerts():
                if alert["state"] == state and all(
                    alert["labels"].get(k) == v for k, v in wanted.items()
                ):
                    return alert
            return None

        return wait_until(check, timeout, interval=0.25, what=f"alert {name} {state} at {self.url}")
