"""Area 5, data exchange and report submission: is each job running, succeeding, on time?

Per configured job, the evidence of up to three sources is merged (the
newest finished run wins): the run store written by ``aftercare-job``, a
SQL query on a table the job writes itself, and the outbox directory's
backlog.  The deadline is the job's next scheduled start after its last
success, read in the system's time zone, plus max_duration and grace.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from ..config import Config, Exchange, System
from ..metrics import LOG_NAME, Sink, counter, gauge, metrics_in
from ..runtime import Area, Target
from ..schedule import deadline
from .evidence import Evidence
from .outbox import backlog
from .sql import SqlSource
from .state import RunStore

log = logging.getLogger(LOG_NAME)

LAST_RUN_TIMESTAMP_SECONDS = gauge(
    "aftercare_exchange_last_run_timestamp_seconds",
    "Unix time the job's last finished run ended, successful or not.",
)
LAST_RUN_SUCCESS = gauge(
    "aftercare_exchange_last_run_success",
    "1 if the job's last finished run succeeded (exit code 0 or a success status), 0 if it failed.",
)
LAST_SUCCESS_TIMESTAMP_SECONDS = gauge(
    "aftercare_exchange_last_success_timestamp_seconds",
    "Unix time the job's last successful run ended.",
)
LAST_DURATION_SECONDS = gauge(
    "aftercare_exchange_last_duration_seconds", "Seconds the job's last finished run took."
)
LAST_RECORDS = gauge(
    "aftercare_exchange_last_records", "Records the job's last finished run reported exchanging."
)
DEADLINE_TIMESTAMP_SECONDS = gauge(
    "aftercare_exchange_deadline_timestamp_seconds",
    "Unix time by which the job's next success is due: its next scheduled start after "
    "the last success (system time zone) plus max_duration and grace. Overdue when time() "
    "is past it.",
)
RUNNING = gauge(
    "aftercare_exchange_running",
    "Number of runs of the job in progress now (more than 1: concurrent runs).",
)
RUNNING_SINCE_TIMESTAMP_SECONDS = gauge(
    "aftercare_exchange_running_since_timestamp_seconds",
    "Unix time the oldest run in progress started (only while one runs).",
)
RUNS_TOTAL = counter(
    "aftercare_exchange_runs_total",
    "Finished runs of the job recorded by aftercare-job, by result (success, failure; a run "
    "whose process died without finishing counts as a failure).",
    "result",
)
CONCURRENT_RUNS_TOTAL = counter(
    "aftercare_exchange_concurrent_runs_total",
    "Runs of the job that started while another run of it was still in progress.",
)
RECORDS_TOTAL = counter(
    "aftercare_exchange_records_total",
    "Records exchanged by all recorded runs of the job, as the job reported them.",
)
BACKLOG_FILES = gauge(
    "aftercare_exchange_backlog_files",
    "Files waiting in the job's outbox directory (matching its pattern).",
)
BACKLOG_OLDEST_AGE_SECONDS = gauge(
    "aftercare_exchange_backlog_oldest_age_seconds",
    "Age in seconds (from modification time) of the oldest file waiting in the outbox; "
    "0 when empty.",
)


class ExchangeTarget(Target):
    def __init__(
        self, system: System, job: Exchange, state_dir: str, timeout: float, databases: dict
    ):
        super().__init__(system.name, job.name, timeout)
        self.job, self.timezone = job, system.timezone
        self.store = RunStore(state_dir, system.name, job.name)
        self.sql = (
            SqlSource(databases[job.query.database], job.query.sql, system.timezone)
            if job.query
            else None
        )
        self.collectors = (
            ("state",) + (("sql",) if job.query else ()) + (("outbox",) if job.outbox else ())
        )
        self._watch_start: float | None = None

    def collect(self, sink: Sink, timeout: float) -> None:
        now = time.time()
        evidence, complete = Evidence(), True
        with sink.collector("state", log, self.name):
            self._from_store(sink, evidence)
        complete &= sink.collectors["state"].success
        if self.job.outbox:
            with sink.collector("outbox", log, self.name):
                files, age = backlog(self.job.outbox, now)
                sink.add(BACKLOG_FILES, files)
                sink.add(BACKLOG_OLDEST_AGE_SECONDS, age)
        if self.sql:
            with sink.collector("sql", log, self.name):
                row = self.sql.fetch(timeout)
                evidence.success(row["last_success"])
                if row["last_run"] is not None:
                    evidence.run(row["last_run"], row["ok"], row["duration"], row["records"])
                elif (
                    row["ok"] is not False
                ):  # no last_run column: the last success was the last run
                    evidence.run(row["last_success"], True, row["duration"], row["records"])
            complete &= sink.collectors["sql"].success
        self._emit(sink, evidence, now, complete)

    def _from_store(self, sink: Sink, evidence: Evidence) -> None:
        snap = self.store.read()
        s = snap.summary
        if s.last_run:
            r = s.last_run
            evidence.run(r.end, r.result == "success", r.duration, r.records)
        if s.last_success:
            evidence.success(s.last_success.end)
        sink.add(RUNS_TOTAL, s.successes, "success")
        sink.add(RUNS_TOTAL, s.failures + len(snap.lost), "failure")
        sink.add(CONCURRENT_RUNS_TOTAL, s.concurrent)
        sink.add(RECORDS_TOTAL, s.records)
        sink.add(RUNNING, len(snap.running))
        if snap.running:
            sink.add(RUNNING_SINCE_TIMESTAMP_SECONDS, min(m.start for m in snap.running))

    def _emit(self, sink: Sink, ev: Evidence, now: float, complete: bool) -> None:
        if ev.last_run is not None:
            sink.add(LAST_RUN_TIMESTAMP_SECONDS, ev.last_run)
            if ev.last_run_ok is not None:
                sink.add(LAST_RUN_SUCCESS, 1 if ev.last_run_ok else 0)
            if ev.last_duration is not None:
                sink.add(LAST_DURATION_SECONDS, ev.last_duration)
            if ev.last_records is not None:
                sink.add(LAST_RECORDS, ev.last_records)
        if ev.last_success is not None:
            sink.add(LAST_SUCCESS_TIMESTAMP_SECONDS, ev.last_success)
        # with a source unreadable the last success is unknown: no deadline rather than a
        # false one (the collector's success metric says why)
        if self.job.schedule and complete:
            if self._watch_start is None:
                self._watch_start = self.store.first_seen(now)
            allowance = (self.job.max_duration or 0.0) + self.job.grace
            sink.add(
                DEADLINE_TIMESTAMP_SECONDS,
                deadline(
                    self.job.schedule, self.timezone, ev.last_success, self._watch_start, allowance
                ),
            )

    def close(self) -> None:
        if self.sql:
            self.sql.close()


class ExchangeArea(Area):
    name = "exchange"
    target_label = "exchange"
    metrics = metrics_in(globals())

    def build_targets(self, config: Config) -> Iterable[Target]:
        for system in config.systems:
            databases = {d.name: d for d in system.databases}
            for job in system.exchange:
                yield ExchangeTarget(
                    system, job, config.defaults.state_dir, config.defaults.timeout, databases
                )
