"""Metric declarations and the per-target sample sink.

Each metric is declared once, as a module-level :class:`Metric` beside the
code that emits it (name, type, help, extra labels); an area's metric list is
built from those objects (:func:`metrics_in`).  A target writes samples into a
:class:`Sink` through the object, ``sink.add(METRIC, value, *labels)``, which
checks the labels at once; the runtime turns the sinks of one scrape into
metric families.  Every family carries ``system`` and the area's target label
(``database``, ``service``, ...) first.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric as _Family
from prometheus_client.samples import Sample

LOG_NAME = "aftercare"


@dataclass(frozen=True)
class Metric:
    """One metric family an area may emit.  ``name`` is the exposed name
    (counters end in ``_total``); ``labels`` are those after system and target."""

    name: str
    kind: str  # gauge | counter | histogram
    help: str
    labels: tuple[str, ...] = ()

    def check(self, labels: tuple) -> None:
        """Raise TypeError unless ``labels`` are this metric's label values
        (a histogram's end with ``part, le``, see :class:`HistogramFamily`)."""
        if self.kind != "histogram":
            if len(labels) != len(self.labels):
                raise TypeError(
                    f"{self.name} takes {len(self.labels)} label value(s) "
                    f"{self.labels}, got {len(labels)}"
                )
            return
        if len(labels) != len(self.labels) + 2:
            raise TypeError(
                f"{self.name} takes {len(self.labels)} label value(s) {self.labels} "
                f"then part and le, got {len(labels)}"
            )
        part, le = labels[-2:]
        if part not in HISTOGRAM_PARTS or (part == "bucket") != (le != ""):
            raise TypeError(
                f"{self.name}: part must be one of {HISTOGRAM_PARTS}, with le set "
                f"for bucket only, got part={part!r} le={le!r}"
            )

    def family(self, base_labels: tuple[str, ...]):
        labels = list(base_labels + self.labels)
        if self.kind == "counter":
            return CounterMetricFamily(self.name.removesuffix("_total"), self.help, labels=labels)
        if self.kind == "histogram":
            return HistogramFamily(self.name, self.help, labels)
        return GaugeMetricFamily(self.name, self.help, labels=labels)


HISTOGRAM_PARTS = ("bucket", "sum", "count")


class HistogramFamily(_Family):
    """A histogram family fed one series at a time: a sample's labels end with
    ``(part, le)``, part being ``bucket`` (with its ``le``), ``sum`` or ``count``
    (with ``le`` empty), as a target adds them with ``sink.add``."""

    def __init__(self, name: str, documentation: str, labels: list[str]):
        super().__init__(name, documentation, "histogram")
        self.label_names = labels

    def add_metric(self, labels, value) -> None:
        *base, part, le = labels
        names = dict(zip(self.label_names, base, strict=True))
        if part == "bucket":
            names["le"] = le
        self.samples.append(Sample(f"{self.name}_{part}", names, value))


def gauge(name: str, help: str, *labels: str) -> Metric:
    return Metric(name, "gauge", help, labels)


def histogram(name: str, help: str, *labels: str) -> Metric:
    """Samples are added as ``sink.add(METRIC, value, *labels, part, le)``."""
    return Metric(name, "histogram", help, labels)


def counter(name: str, help: str, *labels: str) -> Metric:
    if not name.endswith("_total"):
        raise ValueError(f"counter {name} must end in _total")
    return Metric(name, "counter", help, labels)


def metrics_in(*namespaces: ModuleType | Mapping[str, object]) -> tuple[Metric, ...]:
    """The metrics declared at module level in ``namespaces`` (modules, or an area
    module's own ``globals()``), in declaration order, each once (a module may
    import another's)."""
    found: dict[str, Metric] = {}
    for namespace in namespaces:
        values = namespace.values() if isinstance(namespace, Mapping) else vars(namespace).values()
        for value in values:
            if isinstance(value, Metric) and found.setdefault(value.name, value) != value:
                raise ValueError(f"{value.name} is declared twice, differently")
    return tuple(found.values())


@dataclass
class CollectorRun:
    success: bool
    duration: float


@dataclass
class Sink:
    """What one target's collection produced: samples, and per-collector outcomes."""

    samples: list[tuple[str, tuple[str, ...], float]] = field(default_factory=list)
    collectors: dict[str, CollectorRun] = field(default_factory=dict)
    up: bool | None = None
    reason: str | None = None
    error: str | None = None  # safe one-line description of the failure

    def add(self, metric: Metric, value: float, *labels: str) -> None:
        """One sample of a declared metric; wrong labels (or a bare name) raise TypeError."""
        if not isinstance(metric, Metric):
            raise TypeError(
                f"sink.add takes a declared Metric, not {type(metric).__name__} {metric!r}"
            )
        metric.check(labels)
        self.samples.append((metric.name, tuple(str(v) for v in labels), float(value)))

    def set_up(self, ok: bool, reason: str | None = None) -> None:
        self.up, self.reason = ok, (None if ok else reason)

    @contextmanager
    def collector(self, name: str, log=None, target: str = ""):
        """Run one collector: record its success and duration; its failure is
        logged and contained, so the target's other collectors still run."""
        start = time.monotonic()
        mark = len(self.samples)
        try:
            yield
        except Exception as err:  # contained by design: one collector never breaks the scrape
            del self.samples[mark:]  # no half-written family
            self.collectors[name] = CollectorRun(False, time.monotonic() - start)
            if log:
                log.warning(
                    "collector failed",
                    extra={"collector": name, "target": target, "err": safe_error(err)},
                )
        else:
            self.collectors[name] = CollectorRun(True, time.monotonic() - start)


def safe_error(err: BaseException) -> str:
    """One line describing ``err``: its type and first line, trimmed."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
