"""The one version of Aftercare: read from the installed package's metadata at run time."""

from __future__ import annotations

import platform
from importlib import metadata

from prometheus_client.core import GaugeMetricFamily

PACKAGE = "aftercare"


def version() -> str:
    """The installed version, e.g. 0.1.0 ("unknown" in a source tree that was never installed)."""
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


def version_line(prog: str) -> str:
    """What --version prints: ``aftercare-exporter, version 0.1.0 (python 3.11.7)``."""
    return f"{prog}, version {version()} (python {platform.python_version()})"


class BuildInfoCollector:
    """``aftercare_build_info{version,python} 1``, the Prometheus build-info convention."""

    def __init__(self):
        self.labels = [version(), platform.python_version()]

    def collect(self):
        info = GaugeMetricFamily(
            "aftercare_build_info",
            "A constant 1 labelled with the Aftercare version and the Python "
            "version this exporter runs on.",
            labels=["version", "python"],
        )
        info.add_metric(self.labels, 1.0)
        yield info
