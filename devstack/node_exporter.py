"""Debian's node_exporter on a free loopback port, with the collectors the host rules read."""

from __future__ import annotations

from collections.abc import Sequence

from .process import LocalServer

NODE_EXPORTER_BIN = "/usr/bin/prometheus-node-exporter"

# the collectors the host rules, dashboard and report read (docs/hosts.md recommends the same)
HOST_COLLECTORS = (
    "cpu",
    "loadavg",
    "meminfo",
    "vmstat",
    "filesystem",
    "diskstats",
    "netdev",
    "timex",
    "stat",
    "uname",
    "time",
)


class NodeExporter(LocalServer):
    """prometheus-node-exporter with only ``collectors`` enabled; use as a context manager."""

    name = "node_exporter"
    ready_path = "/metrics"

    def __init__(
        self,
        collectors: Sequence[str] = HOST_COLLECTORS,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 20.0,
    ) -> None:
        self.collectors = tuple(collectors)
        self.extra_args = list(extra_args)
        super().__init__("aftercare-node-exporter-", startup_timeout)

    def command(self) -> list[str]:
        return [
            NODE_EXPORTER_BIN,
            f"--web.listen-address={self.address}",
            "--collector.disable-defaults",
            *(f"--collector.{name}" for name in self.collectors),
            *self.extra_args,
        ]
