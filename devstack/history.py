"""Scripted Prometheus history for the report tests, the month demo and the benchmark.

``History`` holds samples as plain Python lists, so that tests can compute the
expected report figures from them independently of Prometheus, and writes them
as OpenMetrics text split by day for ``promtool tsdb create-blocks-from openmetrics``.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

DAY = 86400


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass
class History:
    # (family, type, help) per metric name; series: (name, labels tuple) -> [(ts, value)]
    types: dict = field(default_factory=dict)
    series: dict = field(default_factory=dict)

    def add(self, name: str, labels: dict, points, kind: str = "gauge") -> list:
        self.types.setdefault(name, kind)
        key = (name, tuple(sorted(labels.items())))
        store = self.series.setdefault(key, [])
        store.extend(points)
        return store

    def get(self, name: str, **labels) -> list:
        return self.series[(name, tuple(sorted(labels.items())))]

    def _family(self, name: str) -> str:
        kind = self.types[name]
        if kind == "counter" and name.endswith("_total"):
            return name[: -len("_total")]
        if kind == "histogram":
            for suffix in ("_bucket", "_sum", "_count"):
                if name.endswith(suffix):
                    return name[: -len(suffix)]
        return name

    def day_files(self, directory: str) -> list[str]:
        """One OpenMetrics file per UTC day (every series sorted, each file ends with # EOF)."""
        days: dict[int, dict] = {}
        for key, points in self.series.items():
            for ts, value in points:
                days.setdefault(int(ts // DAY), {}).setdefault(key, []).append((ts, value))
        files = []
        for day, per_series in sorted(days.items()):
            lines = []
            by_family: dict[str, list] = {}
            for (name, labels), points in per_series.items():
                by_family.setdefault(self._family(name), []).append((name, labels, points))
            for family, members in by_family.items():
                lines.append(f"# TYPE {family} {self.types[members[0][0]]}")
                for name, labels, points in members:
                    body = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
                    prefix = f"{name}{{{body}}}" if body else name
                    lines.extend(f"{prefix} {float(v)!r} {t:.3f}" for t, v in sorted(points))
            lines.append("# EOF\n")
            path = os.path.join(directory, f"day-{day}.om")
            with open(path, "w") as fh:
                fh.write("\n".join(lines))
            files.append(path)
        return files

    def backfill(self, storage: str, promtool: str = "promtool", workers: int = 4) -> None:
        """Write every day into ``storage`` as TSDB blocks (Prometheus must be stopped)."""
        with tempfile.TemporaryDirectory(prefix="aftercare-history-") as tmp:
            files = self.day_files(tmp)

            def run(path):
                out = os.path.join(tmp, "blocks-" + os.path.basename(path))
                result = subprocess.run(
                    [promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", path, out],
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                if result.returncode != 0:
                    raise RuntimeError(f"promtool failed on {path}: {result.stderr[-2000:]}")
                return out

            with ThreadPoolExecutor(workers) as pool:
                outs = list(pool.map(run, files))
            for out in outs:
                for block in os.listdir(out):
                    os.replace(os.path.join(out, block), os.path.join(storage, block))


def steps(start: float, end: float, every: float) -> list[float]:
    """Timestamps start, start+every, ... < end."""
    n = int((end - start) // every)
    return [start + i * every for i in range(n) if start + i * every < end]
