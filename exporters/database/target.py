"""What the PostgreSQL and MySQL targets share: one reused connection, the
collector loop, per-target memory and the state directory.

A collector (collector.py) runs ``postgresql(cur, target, sink)`` or
``mysql(cur, target, sink)`` on the target's one connection, and
``local(target, sink)`` on the exporter's host, no connection (the
filesystem of the data path).  One whose ``applies(db)`` returns False for a
database is not run for it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from abc import abstractmethod
from collections.abc import Callable
from typing import Any

from ..config import Database
from ..metrics import LOG_NAME, Sink
from ..runtime import Target

log = logging.getLogger(LOG_NAME)


class ConnectionLost(Exception):
    """The server went away while a collector was running."""


class DatabaseTarget(Target):
    engine: str = ""  # postgresql | mysql: the collector function's name

    def __init__(self, system: str, db: Database, collectors: dict, state_dir: str):
        super().__init__(system, db.name, db.timeout)
        self.db = db
        self.enabled = {name: c for name, c in collectors.items() if c.serves(self.engine, db)}
        self.collectors = tuple(self.enabled)
        self.state_dir = os.path.join(state_dir, "database", system)
        self.cache: dict[str, dict] = {name: {} for name in self.enabled}
        self.deadline = 0.0  # monotonic time the current collection should end by
        self.conn = None
        self.busy = threading.Lock()  # held by a collection and by the work it leaves behind
        self.deferred: list[Callable[[], None]] = []
        self.retired = False
        self.memo: dict = {}  # views read once per scrape (pgviews.py)

    # --- engine specifics ---------------------------------------------------

    @abstractmethod
    def connect(self, timeout: float, database: str | None = None):
        """Open a connection (autocommit, read-only, with timeouts)."""

    @abstractmethod
    def is_broken(self, conn) -> bool:
        """True when the connection can no longer be used."""

    @abstractmethod
    def ping(self, cur) -> None:
        """A trivial query proving the server answers."""

    # --- shared -------------------------------------------------------------

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def state_file(self, suffix: str) -> str:
        return os.path.join(self.state_dir, f"{self.name}.{suffix}")

    def defer(self, job: Callable[[], None]) -> None:
        """Run ``job`` right after this collection, off the scrape's path (the
        next collection of this target waits for it: still one connection)."""
        self.deferred.append(job)

    def collect(self, sink: Sink, timeout: float) -> None:
        self.deadline = time.monotonic() + timeout
        if not self.busy.acquire(timeout=timeout):
            raise TimeoutError("the previous collection's follow-up work is still running")
        self.deferred = []
        self.retired = False
        self.memo = {}
        try:
            self._collect(sink, timeout)
        except BaseException:
            self.deferred = []
            self.busy.release()
            raise
        jobs, self.deferred = self.deferred, []
        if not jobs:
            self.busy.release()
            return
        threading.Thread(
            target=self._follow_up, args=(jobs, timeout), daemon=True, name=f"follow-up-{self.name}"
        ).start()

    def _follow_up(self, jobs: list[Callable[[], None]], timeout: float) -> None:
        try:
            self.deadline = time.monotonic() + timeout
            for job in jobs:
                try:
                    job()
                except Exception as err:  # the job's failure shows in its own metrics next time
                    log.warning(
                        "follow-up failed", extra={"target": self.name, "err": repr(err)[:200]}
                    )
        finally:
            self.busy.release()

    def _collect(self, sink: Sink, timeout: float) -> None:
        if self.conn is None or self.is_broken(self.conn):
            self.drop()
            self.conn = self.connect(timeout)
        try:
            with self._open().cursor() as cur:
                self.ping(cur)
        except Exception:
            self.drop()
            raise
        for name, collector in self.enabled.items():
            with sink.collector(name, log, self.name):
                run = collector.runs.get(self.engine)
                if run is not None:
                    with self._open().cursor() as cur:
                        run(cur, self, sink)
                local = collector.runs.get("local")
                if local is not None:
                    local(self, sink)
            if self.is_broken(self.conn):
                self.drop()
                raise ConnectionLost("the server closed the connection during collection")

    def _open(self) -> Any:
        """The open connection; ConnectionLost when a collector dropped it."""
        if self.conn is None:
            raise ConnectionLost("the connection was closed during collection")
        return self.conn

    def close(self) -> None:
        """Release the connection for good (reload, exit): follow-up work stops reconnecting."""
        self.retired = True
        self.drop()

    def drop(self) -> None:
        """Close the connection; the next collection opens a new one."""
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception as err:  # already gone: nothing to release
                log.debug("close failed", extra={"target": self.name, "err": type(err).__name__})
