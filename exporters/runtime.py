"""The scrape engine every area shares.

At each scrape every target of every served area is collected concurrently,
each on a worker thread of a persistent pool, each under its own timeout
(capped by the scrape's budget).  A target that fails or hangs makes its ``_up`` 0 and never delays
the scrape past its budget.  Collection is single-flight per target: a scrape
that arrives while the target is still being collected (an HA pair of
Prometheus servers scraping at the same instant, or a hung database) joins
that collection instead of opening a second connection.

The pool reuses its threads from scrape to scrape (no thread started per
target per scrape); a target never waits for a free worker longer than the
pool's ``stall`` (100 ms), so hung targets cannot starve the others.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable
from typing import Any

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
        return None  # a target that holds no connection has nothing to release


class Area(ABC):
    """An inspection area: its metrics, and the targets it builds from the config."""

    name: str  # area name: database, services, ...
    target_label: str  # label naming the target: database, service, ...
    up_metric: str | None = None  # e.g. aftercare_database_up
    up_help: str = ""
    reasons: tuple[str, ...] = ()  # bounded failure reasons, exposed 0/1
    metrics: tuple[Metric, ...] = ()

    def __init__(self, config: Config):
        self.config = config
        self.targets: list[Target] = list(self.build_targets(config))

    @abstractmethod
    def build_targets(self, config: Config) -> Iterable[Target]: ...

    def classify(self, err: BaseException) -> str:
        """Map an exception from a target to one of ``reasons``."""
        return "error"


def _close(target: Target) -> None:
    try:
        target.close()
    except Exception as err:  # closing must never break a reload
        log.debug("close failed", extra={"target": target.name, "err": safe_error(err)})


class WorkerPool:
    """Persistent daemon threads running collections.

    Up to ``size`` workers are started on demand and kept while they are used;
    beyond that a job waits for the next free worker.  A worker whose job has
    run longer than ``stall`` seconds counts as stuck (a hung database, a
    black-hole address) and no longer as part of ``size``: a new worker is
    started in its place, so hung targets never make the others wait more
    than ``stall``.  Single flight bounds the busy workers by the number of
    targets; a worker unused for ``idle_seconds`` exits.
    """

    def __init__(
        self, size: int = 16, stall: float = 0.1, idle_seconds: float = 300.0, name: str = "collect"
    ):
        self.size, self.stall, self.idle_seconds, self.name = size, stall, idle_seconds, name
        lock = threading.Lock()
        self._work = threading.Condition(lock)  # workers wait here for jobs
        self._watch = threading.Condition(lock)  # the supervisor waits here for a backlog
        self._jobs: deque = deque()  # jobs waiting for a worker
        self._busy_since: dict[int, float] = {}  # worker number -> when its job started
        self._idle = 0  # workers waiting in _work
        self._threads = 0
        self._started = 0
        self._supervisor: threading.Thread | None = None

    @property
    def threads(self) -> int:
        """Workers alive now (busy or idle)."""
        with self._work:
            return self._threads

    @property
    def started(self) -> int:
        """Workers started since the pool was made (a measure of thread churn)."""
        with self._work:
            return self._started

    def submit(self, job) -> None:
        """Run ``job()`` on a worker: an idle one, a new one, or the next one free."""
        with self._work:
            if self._idle > len(self._jobs):
                self._jobs.append(job)
                self._work.notify()
            elif self._threads < self.size:
                self._spawn(job)
            else:
                self._jobs.append(job)
                if self._supervisor is None:
                    self._supervisor = threading.Thread(
                        target=self._supervise, name=f"{self.name}-supervisor", daemon=True
                    )
                    self._supervisor.start()
                self._watch.notify()

    def _spawn(self, job) -> None:
        """Start a worker that runs ``job`` first (called with the lock held)."""
        self._threads += 1
        self._started += 1
        number = self._started
        self._busy_since[number] = time.monotonic()
        threading.Thread(
            target=self._worker, args=(number, job), name=f"{self.name}-{number}", daemon=True
        ).start()

    def _supervise(self) -> None:
        """Start a worker for queued jobs whenever a busy worker has been stuck for ``stall``."""
        with self._watch:
            while True:
                if not self._jobs:
                    self._watch.wait()
                    continue
                now = time.monotonic()
                stuck = sum(1 for since in self._busy_since.values() if since + self.stall <= now)
                while self._jobs and self._threads < self.size + stuck:
                    self._spawn(self._jobs.popleft())
                later = [
                    since + self.stall
                    for since in self._busy_since.values()
                    if since + self.stall > now
                ]
                self._watch.wait(min(later) - now if later else self.stall)

    def _worker(self, number: int, job) -> None:
        while True:
            try:
                job()
            except BaseException as err:  # a job never kills its worker
                log.error("collection crashed", extra={"err": safe_error(err)})
            job = None
            with self._work:
                del self._busy_since[number]
                while not self._jobs:
                    self._idle += 1
                    woken = self._work.wait(self.idle_seconds)
                    self._idle -= 1
                    if not woken and not self._jobs:
                        self._threads -= 1
                        return
                job = self._jobs.popleft()
                self._busy_since[number] = time.monotonic()


class _Flight:
    """One in-progress collection of one target."""

    def __init__(self, area: Area, target: Target, timeout: float, pool: WorkerPool):
        self.started = time.monotonic()
        self.done = threading.Event()
        self.sink = Sink()
        self.retire = False  # close the target once this collection ends
        self.lock = threading.Lock()
        pool.submit(lambda: self._run(area, target, timeout))

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
    merged: dict[str, Any] = {}
    for family in families:
        first = merged.setdefault(family.name, family)
        if first is not family:
            first.samples.extend(family.samples)
    return list(merged.values())


class Scraper:
    """Collects the served areas; owns single-flight state per target."""

    def __init__(self, areas: list[Area], pool: WorkerPool | None = None):
        self.areas = areas
        self.pool = pool or WorkerPool()
        self._flights: dict[int, _Flight] = {}
        self._lock = threading.Lock()
        self._was_up: dict[tuple, bool] = {}

    def _flight(self, area: Area, target: Target, timeout: float) -> _Flight:
        with self._lock:
            flight = self._flights.get(id(target))
            if flight is None or flight.done.is_set():
                flight = self._flights[id(target)] = _Flight(area, target, timeout, self.pool)
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
        fields: dict[str, str | None] = {
            "area": area.name,
            "system": target.system,
            "target": target.name,
        }
        if not up:
            fields.update(
                reason=sink.reason if sink else "timeout",
                err=(sink.error if sink else None) or f"no answer within {target.timeout:g}s",
            )
        if was is None and up:
            log.debug("target up", extra=fields)
        elif was != up:
            (log.info if up else log.warning)("target up" if up else "target down", extra=fields)
        elif not up:
            log.debug("target still down", extra=fields)

    def _families(self, results) -> list:
        families = []
        success = GaugeMetricFamily(
            "aftercare_scrape_collector_success",
            "1 if the collector ran without error at this scrape, 0 if it "
            "failed or its target was unreachable.",
            labels=["system", "target", "collector"],
        )
        duration = GaugeMetricFamily(
            "aftercare_scrape_collector_duration_seconds",
            "Seconds the collector took at this scrape.",
            labels=["system", "target", "collector"],
        )
        for area in self.areas:
            mine = [(t, s) for a, t, s in results if a is area]
            base = ("system", area.target_label)
            if area.up_metric:
                up = gauge(area.up_metric, area.up_help).family(base)
                for target, sink in mine:
                    up.add_metric([target.system, target.name], 1.0 if sink and sink.up else 0.0)
                families.append(up)
            if area.reasons:
                failed = gauge(
                    f"aftercare_{area.target_label}_failure",
                    "1 for the reason the last check failed (one of a fixed set), "
                    "0 for the others; all 0 while up.",
                    "reason",
                ).family(base)
                for target, sink in mine:
                    reason = "timeout" if sink is None else sink.reason
                    for r in area.reasons:
                        failed.add_metric(
                            [target.system, target.name, r], 1.0 if r == reason else 0.0
                        )
                families.append(failed)
            by_name = {m.name: (m, m.family(base)) for m in area.metrics}
            for target, sink in mine:
                for collector in target.collectors:
                    run = sink.collectors.get(collector) if sink else None
                    success.add_metric(
                        [target.system, target.name, collector], 1.0 if run and run.success else 0.0
                    )
                    if run:
                        duration.add_metric([target.system, target.name, collector], run.duration)
                for name, labels, value in sink.samples if sink else ():
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
