"""The scrape engine every area shares.

At each scrape every target of every served area is collected concurrently,
each in its own thread, each under its own timeout (capped by the scrape's
budget).  A target that fails or hangs makes its ``_up`` 0 and never delays
the scrape past its budget.  Collection is single-flight per target: a scrape
that arrives while the target is still being collected (an HA pair of
Prometheus servers scraping at the same instant, or a hung database) joins
that collection instead of opening a second connection.
"""
from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from typing import Iterable

from prometheus_client.core import GaugeMetricFamily

from .config import Config
from .metrics import LOG_NAME, Metric, Sink, gauge, safe_error

log = logging.getLogger(LOG_NAME)


class Target(ABC):
    """One configured thing an area watches (a database, a service, a link...)."""

    collectors: tuple[str, ...] = ()

    def __init__(self, system: str, name: str, timeout: float):
        self.system, self.name, self.timeout = system, name, timeout

    @abstractmethod
    def collect(self, sink: Sink, timeout: float) -> None:
        """Write samples into ``sink``; raise (or ``sink.set_up(False, reason)``) when down."""

    def close(self) -> None:
        """Release connections; called when the config is replaced or on exit."""


class Area(ABC):
    """An inspection area: its metrics, and the targets it builds from the config."""

    name: str                      # area name: database, services, ...
    target_label: str              # label naming the target: database, service, ...
    up_metric: str | None = None   # e.g. aftercare_database_up
    up_help: str = ""
    reasons: tuple[str, ...] = ()  # bounded failure reasons, exposed 0/1
    metrics: tuple[Metric, ...] = ()

    def __init__(self, config: Config):
        self.config = config
        self.targets: list[Target] = list(self.build_targets(config))

    @abstractmethod
    def build_targets(self, config: Config) -> Iterable[Target]:
        ...

    def classify(self, err: BaseException) -> str:
        """Map an exception from a target to one of ``reasons``."""
        return "error"



def _close(target: Target) -> None:
    try:
        target.close()
    except Exception as err:  # closing must never break a reload
        log.debug("close failed", extra={"target": target.name, "err": safe_error(err)})


class _Flight:
    """One in-progress collection of one target."""

    def __init__(self, area: Area, target: Target, timeout: float):
        self.started = time.monotonic()
        self.done = threading.Event()
        self.sink = Sink()
        self.retire = False             # close the target once this collection ends
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, args=(area, target, timeout),
                                       name=f"collect-{area.name}-{target.name}", daemon=True)
        self.thread.start()

    def _run(self, area: Area, target: Target, timeout: float) -> None:
        try:
            target.collect(self.sink, timeout)
            if self.sink.up is None:
                self.sink.set_up(True)
        except Exception as err:  # a target's failure is data, never a crash
            self.sink.set_up(False, area.classify(err))
            self.sink.error = safe_error(err)
        finally:
            with self.lock:
                self.done.set()
                retire = self.retire
            if retire:
                _close(target)


def _merge(families: list) -> list:
    """One family per name: two areas with the same target label (the
    database and its server log) may both emit, e.g., a failure family."""
    merged: dict[str, object] = {}
    for family in families:
        first = merged.setdefault(family.name, family)
        if first is not family:
            first.samples.extend(family.samples)
    return list(merged.values())


class Scraper:
    """Collects the served areas; owns single-flight state per target."""

    def __init__(self, areas: list[Area]):
        self.areas = areas
        self._flights: dict[int, _Flight] = {}
        self._lock = threading.Lock()
        self._was_up: dict[tuple, bool] = {}

    def _flight(self, area: Area, target: Target, timeout: float) -> _Flight:
        with self._lock:
            flight = self._flights.get(id(target))
            if flight is None or flight.done.is_set():
                flight = self._flights[id(target)] = _Flight(area, target, timeout)
            return flight

    def scrape(self, budget: float) -> list:
        """Collect everything within ``budget`` seconds; return metric families."""
        start = time.monotonic()
        deadline = start + budget
        pending = []
        for area in self.areas:
            for target in area.targets:
                timeout = max(0.05, min(target.timeout, budget))
                flight = self._flight(area, target, timeout)
                # wait no longer than the target's own timeout from when its
                # collection began, nor past the scrape's deadline
                pending.append((area, target, flight, min(deadline, flight.started + timeout)))
        results = []
        for area, target, flight, until in pending:
            finished = flight.done.wait(max(0.0, until - time.monotonic()))
            sink = flight.sink if finished else None
            self._log_change(area, target, sink)
            results.append((area, target, sink))
        return self._families(results)

    def _log_change(self, area: Area, target: Target, sink: Sink | None) -> None:
        """Log a target going down or coming back once, not at every scrape."""
        up = bool(sink and sink.up)
        key = (area.name, target.system, target.name)
        with self._lock:
            was, self._was_up[key] = self._was_up.get(key), up
        fields = {"area": area.name, "system": target.system, "target": target.name}
        if not up:
            fields.update(reason=sink.reason if sink else "timeout",
                          err=(sink.error if sink else None) or f"no answer within {target.timeout:g}s")
        if was is None and up:
            log.debug("target up", extra=fields)
        elif was != up:
            (log.info if up else log.warning)("target up" if up else "target down", extra=fields)
        elif not up:
            log.debug("target still down", extra=fields)

    def _families(self, results) -> list:
        families = []
        success = GaugeMetricFamily("aftercare_scrape_collector_success",
                                    "1 if the collector ran without error at this scrape, 0 if it "
                                    "failed or its target was unreachable.",
                                    labels=["system", "target", "collector"])
        duration = GaugeMetricFamily("aftercare_scrape_collector_duration_seconds",
                                     "Seconds the collector took at this scrape.",
                                     labels=["system", "target", "collector"])
        for area in self.areas:
            mine = [(t, s) for a, t, s in results if a is area]
            base = ("system", area.target_label)
            if area.up_metric:
                up = gauge(area.up_metric, area.up_help).family(base)
                for target, sink in mine:
                    up.add_metric([target.system, target.name], 1.0 if sink and sink.up else 0.0)
                families.append(up)
            if area.reasons:
                failed = gauge(f"aftercare_{area.target_label}_failure",
                               "1 for the reason the last check failed (one of a fixed set), "
                               "0 for the others; all 0 while up.", "reason").family(base)
                for target, sink in mine:
                    reason = "timeout" if sink is None else sink.reason
                    for r in area.reasons:
                        failed.add_metric([target.system, target.name, r], 1.0 if r == reason else 0.0)
                families.append(failed)
            by_name = {m.name: (m, m.family(base)) for m in area.metrics}
            for target, sink in mine:
                for collector in target.collectors:
                    run = sink.collectors.get(collector) if sink else None
                    success.add_metric([target.system, target.name, collector],
                                       1.0 if run and run.success else 0.0)
                    if run:
                        duration.add_metric([target.system, target.name, collector], run.duration)
                for name, labels, value in (sink.samples if sink else ()):
                    if name not in by_name:
                        log.error("undeclared metric", extra={"area": area.name, "metric": name})
                        continue
                    by_name[name][1].add_metric([target.system, target.name, *labels], value)
            families.extend(f for _, f in by_name.values() if f.samples)
        families += [success, duration]
        return _merge(families)

    def close(self) -> None:
        """Release every target; one still being collected is closed when it ends."""
        with self._lock:
            flights = dict(self._flights)
        for area in self.areas:
            for target in area.targets:
                flight = flights.get(id(target))
                if flight is not None:
                    with flight.lock:
                        if not flight.done.is_set():
                            flight.retire = True
                            continue
                _close(target)
