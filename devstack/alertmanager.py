"""A real Alertmanager on a free loopback port, with its config rewritten for tests."""

from __future__ import annotations

import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests
import yaml

from .process import LocalServer

ALERTMANAGER_BIN = "/usr/bin/prometheus-alertmanager"
PLACEHOLDER_ADDRESS = "127.0.0.1:9099"
FAST_TIMINGS = {"group_wait": "1s", "group_interval": "1s"}
TIMING_KEYS = frozenset({"group_wait", "group_interval", "repeat_interval"})


def _replace_strings(node: Any, old: str, new: str) -> Any:
    """Return node with old replaced by new in every string value, at any depth."""
    if isinstance(node, str):
        return node.replace(old, new)
    if isinstance(node, list):
        return [_replace_strings(item, old, new) for item in node]
    if isinstance(node, dict):
        return {key: _replace_strings(value, old, new) for key, value in node.items()}
    return node


def _override_timings(route: dict[str, Any], timings: Mapping[str, str], root: bool) -> None:
    """Set timings on the root route and wherever a child route sets them itself."""
    for key, value in timings.items():
        if root or key in route:
            route[key] = value
    for child in route.get("routes") or []:
        _override_timings(child, timings, root=False)


def rewrite_config(
    text: str,
    webhook_address: str | None = None,
    timings: Mapping[str, str] | None = None,
    config_dir: str | Path | None = None,
) -> str:
    """Rewrite alertmanager.yml text for a test: webhook address, route timings, template paths."""
    config = yaml.safe_load(text) or {}
    if not isinstance(config, dict):
        raise ValueError("alertmanager config must be a mapping")
    if webhook_address:
        # the sink stands in for aftercare-notify: /notify/<channel> arrives as /<channel>
        config = _replace_strings(config, f"{PLACEHOLDER_ADDRESS}/notify/", webhook_address + "/")
        config = _replace_strings(config, PLACEHOLDER_ADDRESS, webhook_address)
    if timings:
        unknown = set(timings) - TIMING_KEYS
        if unknown:
            raise ValueError(
                f"unknown route timing(s) {sorted(unknown)}; allowed: {sorted(TIMING_KEYS)}"
            )
        if not isinstance(config.get("route"), dict):
            raise ValueError("alertmanager config has no route to override timings on")
        _override_timings(config["route"], timings, root=True)
    if config_dir is not None and config.get("templates"):
        base = Path(config_dir).resolve()
        config["templates"] = [
            str(base / t) if not Path(t).is_absolute() else t for t in config["templates"]
        ]
    return yaml.safe_dump(config, sort_keys=False)


class Alertmanager(LocalServer):
    """Alertmanager 0.25 without clustering; use as a context manager."""

    def __init__(
        self,
        config_text: str,
        webhook_address: str | None = None,
        timings: Mapping[str, str] | None = None,
        config_dir: str | Path | None = None,
        extra_args: tuple[str, ...] | list[str] = (),
        startup_timeout: float = 20.0,
    ) -> None:
        """Rewrite the config into a new temp dir; nothing runs until start() or entering the
        context.

        config_dir resolves relative ``templates`` paths (the directory the original file lives in).
        """
        self.config_text = rewrite_config(config_text, webhook_address, timings, config_dir)
        self.extra_args = list(extra_args)
        super().__init__("aftercare-alertmanager-", startup_timeout)
        self.config_path = self.dir / "alertmanager.yml"
        self.config_path.write_text(self.config_text)
        self.storage_path = self.dir / "data"
        self.storage_path.mkdir()

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> Alertmanager:
        """Build from an alertmanager.yml on disk; relative template paths resolve next to it."""
        path = Path(path)
        kwargs.setdefault("config_dir", path.parent)
        return cls(path.read_text(), **kwargs)

    name = "alertmanager"

    def cluster_args(self) -> list[str]:
        return ["--cluster.listen-address="]  # no clustering

    def command(self) -> list[str]:
        return [
            ALERTMANAGER_BIN,
            "--config.file",
            str(self.config_path),
            "--storage.path",
            str(self.storage_path),
            "--web.listen-address",
            self.address,
            *self.cluster_args(),
            *self.extra_args,
        ]

    def restart(self) -> Alertmanager:
        """Stop and start again on the same port with the same storage."""
        self.stop()
        return self.start()

    def alerts(self, **filters: Any) -> list[dict[str, Any]]:
        """GET /api/v2/alerts (filters are query parameters such as active=True, filter=[...])."""
        params = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in filters.items()}
        response = requests.get(f"{self.url}/api/v2/alerts", params=params, timeout=10)
        response.raise_for_status()
        return response.json()

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """POST /api/v2/alerts (each alert: labels, annotations, startsAt, endsAt, generatorURL)."""
        response = requests.post(f"{self.url}/api/v2/alerts", json=alerts, timeout=10)
        if response.status_code != 200:
            raise RuntimeError(
                f"alertmanager refused alerts: HTTP {response.status_code}: {response.text}"
            )

    def status(self) -> dict[str, Any]:
        """GET /api/v2/status: config.original (the loaded YAML), versionInfo, uptime."""
        response = requests.get(f"{self.url}/api/v2/status", timeout=10)
        response.raise_for_status()
        return response.json()


class ClusteredAlertmanager(Alertmanager):
    """The dev stack's Alertmanager, gossiping with its peers on fixed loopback ports."""

    def __init__(
        self,
        config_text: str,
        cluster_port: int,
        peers: list[int],
        peer_timeout: str = "15s",
        **kwargs,
    ) -> None:
        super().__init__(config_text, **kwargs)
        self.cluster_port, self.peers, self.peer_timeout = cluster_port, peers, peer_timeout

    def cluster_args(self) -> list[str]:
        return [
            f"--cluster.listen-address=127.0.0.1:{self.cluster_port}",
            f"--cluster.advertise-address=127.0.0.1:{self.cluster_port}",
            *(f"--cluster.peer=127.0.0.1:{p}" for p in self.peers),
            f"--cluster.peer-timeout={self.peer_timeout}",
            "--cluster.gossip-interval=100ms",
            "--cluster.pushpull-interval=2s",
        ]

    def kill(self) -> None:
        """SIGKILL: the node is lost without a goodbye to its peer."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(5)
        self.process = None

    def cluster(self) -> dict:
        return self.status()["cluster"]
