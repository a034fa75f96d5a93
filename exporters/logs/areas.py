"""The three areas that read log files, all through one follower per target.

- ``LogSourcesArea`` (services exporter): ``logs:`` sources, lines by level, or
  HTTP requests for access logs;
- ``DatabaseLogArea`` (database exporter): ERROR/FATAL/PANIC (PostgreSQL) or
  [ERROR]/[Warning] (MySQL, MariaDB) of each database's server log;
- ``ExchangeLogArea`` (exchange exporter): lines by level of each job's log.

Reads happen at scrape time, bounded: at most ``MAX_BYTES_PER_SCRAPE`` per
target and never past half of the target's timeout; what is left (exposed as
``*_backlog_bytes``) is read at the next scrape.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields

from ..config import Config
from ..metrics import LOG_NAME, Metric, Sink, counter, gauge, metrics_in
from ..runtime import Area, Target
from . import access, logformat, serverlog
from .counting import LevelCounter
from .tail import Follower, PollResult

log = logging.getLogger(LOG_NAME)

MAX_BYTES_PER_SCRAPE = 256 << 20
READ_SHARE_OF_TIMEOUT = 0.5


@dataclass(frozen=True)
class FollowerMetrics:
    """The metrics every followed log has, named ``<prefix>_...`` (see :func:`follower_metrics`)."""

    files: Metric
    unreadable_files: Metric
    read_bytes: Metric
    read_lines: Metric
    backlog_bytes: Metric
    last_line: Metric
    decode_errors: Metric
    offsets_saved: Metric

    def __iter__(self):
        return iter(tuple(getattr(self, f.name) for f in fields(self)))


def follower_metrics(prefix: str, what: str) -> FollowerMetrics:
    """The metrics every followed log has, named ``<prefix>_...``."""
    return FollowerMetrics(
        gauge(
            f"{prefix}_files",
            f"Files matching the {what}'s path that are followed; 0 means none "
            "exists (or none could be opened).",
        ),
        gauge(
            f"{prefix}_unreadable_files",
            f"Files matching the {what}'s path that could not be "
            "opened or examined (permissions, I/O error).",
        ),
        counter(
            f"{prefix}_read_bytes_total", f"Bytes of the {what} read so far (kept across restarts)."
        ),
        counter(
            f"{prefix}_read_lines_total",
            f"Complete lines of the {what} read so far, of any level (kept across restarts).",
        ),
        gauge(
            f"{prefix}_backlog_bytes",
            f"Bytes of the {what} not read yet: a scrape reads a bounded "
            "amount, the rest comes at the next scrapes.",
        ),
        gauge(
            f"{prefix}_last_line_timestamp_seconds",
            f"When the {what} last had a new line (the file's "
            "modification time when it was read), Unix seconds.",
        ),
        counter(
            f"{prefix}_decode_errors_total",
            f"Invalid byte sequences in the {what} for its "
            "declared encoding, read as U+FFFD (kept across restarts; utf-8 is not checked).",
        ),
        gauge(
            f"{prefix}_offsets_saved",
            "1 if the read offsets were saved at this scrape; 0 means they "
            "could not be, and a restart may count lines again.",
        ),
    )


class LogTarget(Target):
    """One followed path, its chunk counter and the series to expose (0 until seen)."""

    def __init__(
        self,
        system: str,
        name: str,
        timeout: float,
        *,
        path: str,
        state_file: str,
        metrics: FollowerMetrics,
        counted: Mapping[str, Metric],
        collector: str,
        count: Callable,
        zero_keys: Iterable[tuple],
        encoding: str = "utf-8",
    ):
        """``count`` keys its counts (name, label values...) by the names in ``counted``;
        ``encoding`` is the log's, its lines counted as UTF-8 text."""
        super().__init__(system, name, timeout)
        self.collectors = (collector,)
        self.path, self.metrics, self.counted, self.count = path, metrics, counted, count
        self.zero_keys = tuple(zero_keys)
        self.follower = Follower(
            path, state_file, max_bytes=MAX_BYTES_PER_SCRAPE, encoding=encoding
        )
        self.last_problem: str | None = None
        try:
            self.follower.anchor()  # positions fixed now, not at the first scrape
        except OSError as err:  # the first poll reports it as a problem
            log.debug("cannot fix log positions yet", extra={"path": path, "err": err.strerror})

    def collect(self, sink: Sink, timeout: float) -> None:
        deadline = time.monotonic() + timeout * READ_SHARE_OF_TIMEOUT
        result = None
        with sink.collector(self.collectors[0], log, self.name):
            result = self.follower.poll(self.count, deadline)
            self.expose(sink, result)
        found = self.problem(result)
        self.report(found)
        if found:
            self.on_problem(sink, *found)

    def on_problem(self, sink: Sink, reason: str, text: str) -> None:
        """What a problem does besides the log line and the file metrics."""

    def expose(self, sink: Sink, result: PollResult) -> None:
        m, state = self.metrics, self.follower.state
        totals = self.follower.totals
        for key in dict.fromkeys(self.zero_keys + tuple(totals)):
            metric = self.counted.get(key[0])
            if metric is None:  # kept in the state by an older version or config
                log.error("undeclared metric", extra={"target": self.name, "metric": key[0]})
                continue
            sink.add(metric, totals.get(key, 0), *key[1:])
        sink.add(m.files, result.files)
        sink.add(m.unreadable_files, result.unreadable)
        sink.add(m.read_bytes, state["bytes"])
        sink.add(m.read_lines, state["lines"])
        sink.add(m.backlog_bytes, result.backlog_bytes)
        sink.add(m.decode_errors, state.get("decode_errors", 0))
        sink.add(m.offsets_saved, 1 if result.state_saved else 0)
        if state.get("last_line_time"):
            sink.add(m.last_line, state["last_line_time"])

    def problem(self, result: PollResult | None) -> tuple[str, str] | None:
        """(reason, safe description) of what is wrong, or None."""
        if result is None:
            return "error", "reading the log failed"
        if result.unreadable:
            return "unreadable", "; ".join(result.problems[:3])
        if result.files == 0:
            return "missing", f"no readable file matches {self.path}"
        if not result.state_saved:
            return "state", "; ".join(result.problems[:3])
        return None

    def report(self, found: tuple[str, str] | None) -> None:
        """Log a problem once when it appears and once when it is gone."""
        text = found[1] if found else None
        if text != self.last_problem:
            fields = {"system": self.system, "target": self.name, "path": self.path}
            if found:
                log.warning("log not readable", extra={**fields, "reason": found[0], "err": text})
            else:
                log.info("log readable again", extra=fields)
        self.last_problem = text

    def close(self) -> None:
        self.follower.close()


def _state_file(config: Config, area: str, system: str, name: str) -> str:
    return os.path.join(config.defaults.state_dir, "logs", area, system, f"{name}.json")


def _by_name(metrics: Iterable[Metric]) -> dict[str, Metric]:
    return {m.name: m for m in metrics}


SOURCE_LINES = counter(
    "aftercare_log_lines_total",
    "Lines of the log source matching each "
    "configured level's regex (a line may match several levels), kept across "
    "restarts.",
    "level",
)
SOURCE_LOG = follower_metrics("aftercare_log", "log source")

DATABASE_LOG = follower_metrics("aftercare_database_log", "database server log")
SLOW_LOG = follower_metrics("aftercare_database_slow_log", "slow query log")

EXCHANGE_LINES = counter(
    "aftercare_exchange_log_lines_total",
    "Lines of the job's log matching each configured level's regex, kept across restarts.",
    "level",
)
EXCHANGE_LOG = follower_metrics("aftercare_exchange_log", "job log")


class LogSourcesArea(Area):
    """Log sources of the services exporter: lines by level, or HTTP traffic."""

    name = "logs"
    target_label = "source"
    reasons = ("missing", "unreadable", "state", "error")
    metrics = (SOURCE_LINES, *SOURCE_LOG, *metrics_in(access))

    def build_targets(self, config: Config) -> Iterable[Target]:
        counted = _by_name(self.metrics)
        for system in config.systems:
            for src in system.logs:
                count: Callable[[bytes], Counter]
                zero: Iterable[tuple]
                if src.format == "combined":
                    count, zero = access.AccessCounter(), access.zero_samples()
                elif src.format in logformat.DECLARED_FORMATS:
                    assert src.parser is not None  # compiled when the config was read
                    declared = access.FormatAccessCounter(src.parser, src.routes)
                    count, zero = declared, declared.zero_samples()
                else:
                    count = LevelCounter(src.levels, SOURCE_LINES.name)
                    zero = [(SOURCE_LINES.name, level) for level in src.levels]
                yield SourceTarget(
                    system.name,
                    src.source,
                    config.defaults.timeout,
                    path=src.path,
                    state_file=_state_file(config, "source", system.name, src.source),
                    metrics=SOURCE_LOG,
                    counted=counted,
                    collector="log",
                    count=count,
                    zero_keys=zero,
                    encoding=src.encoding,
                )


class SourceTarget(LogTarget):
    """A log source: its problem is also the area's failure reason."""

    def on_problem(self, sink: Sink, reason: str, text: str) -> None:
        sink.set_up(False, reason)
        sink.error = text

    def report(self, found) -> None:
        """The runtime logs the change of the failure reason."""


class DatabaseLogArea(Area):
    """Severities and completed slow statements in each database's server log (``log``), and
    the slow query log of a MySQL/MariaDB database (``slow_log``)."""

    name = "database_log"
    target_label = "database"
    metrics = (*metrics_in(serverlog), *DATABASE_LOG, *SLOW_LOG)

    def build_targets(self, config: Config) -> Iterable[Target]:
        counted = _by_name(self.metrics)
        for system in config.systems:
            for db in system.databases:
                if db.log is None:
                    continue
                fmt = serverlog.log_format(db.type, db.log.format, db.log.path)
                zero = [(serverlog.MESSAGES.name, s) for s in serverlog.severities(fmt)]
                count: Callable[[bytes], Counter]
                if fmt in serverlog.SLOW_FORMATS:  # PostgreSQL: slow statements too
                    count = serverlog.ServerLogCounter(fmt)
                    zero += list(serverlog.slow_zero_keys())
                else:
                    count = serverlog.counter_for(fmt)
                yield LogTarget(
                    system.name,
                    db.name,
                    db.timeout,
                    path=db.log.path,
                    state_file=_state_file(config, "database", system.name, db.name),
                    metrics=DATABASE_LOG,
                    counted=counted,
                    collector="database_log",
                    count=count,
                    zero_keys=zero,
                    encoding=db.log.encoding,
                )
        for system in config.systems:
            for db in system.databases:
                if db.slow_log is None:
                    continue
                yield LogTarget(
                    system.name,
                    db.name,
                    db.timeout,
                    path=db.slow_log.path,
                    state_file=_state_file(config, "database-slow", system.name, db.name),
                    metrics=SLOW_LOG,
                    counted=counted,
                    collector="database_slow_log",
                    count=serverlog.SlowStatementCounter("mysql-slow"),
                    zero_keys=serverlog.slow_zero_keys(),
                    encoding=db.slow_log.encoding,
                )


class ExchangeLogArea(Area):
    """Lines by level of each data-exchange job's log (``log`` of an exchange job)."""

    name = "exchange_log"
    target_label = "exchange"
    metrics = (EXCHANGE_LINES, *EXCHANGE_LOG)

    def build_targets(self, config: Config) -> Iterable[Target]:
        counted = _by_name(self.metrics)
        for system in config.systems:
            for job in system.exchange:
                if job.log is None:
                    continue
                metric = EXCHANGE_LINES.name
                yield LogTarget(
                    system.name,
                    job.name,
                    config.defaults.timeout,
                    path=job.log.path,
                    state_file=_state_file(config, "exchange", system.name, job.name),
                    metrics=EXCHANGE_LOG,
                    counted=counted,
                    collector="exchange_log",
                    count=LevelCounter(job.log.levels, metric),
                    zero_keys=[(metric, level) for level in job.log.levels],
                    encoding=job.log.encoding,
                )
