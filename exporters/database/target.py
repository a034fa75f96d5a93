"""What the PostgreSQL and MySQL targets share: one reused connection, the
collector loop, per-target memory and the state directory.

A collector module may define ``postgresql(cur, target, sink)``,
``mysql(cur, target, sink)`` (run on the target's one connection) and
``local(target, sink)`` (run on the exporter's host, no connection: the
filesystem of the data path, the server log).  A module whose ``applies(db)``
returns False for a database is not run for it.
"""
from __future__ import annotations

import logging
import os
import time
from abc import abstractmethod

from ..config import Database
from ..metrics import LOG_NAME, Sink
from ..runtime import Target

log = logging.getLogger(LOG_NAME)


class ConnectionLost(Exception):
    """The server went away while a collector was running."""


class DatabaseTarget(Target):
    engine: str = ""                 # postgresql | mysql: the collector function's name

    def __init__(self, system: str, db: Database, collectors: dict, state_dir: str):
        super().__init__(system, db.name, db.timeout)
        self.db = db
        self.modules = {name: m for name, m in collectors.items()
                        if (hasattr(m, self.engine) or hasattr(m, "local"))
                        and getattr(m, "applies", lambda _db: True)(db)}
        self.collectors = tuple(self.modules)
        self.state_dir = os.path.join(state_dir, "database", system)
        self.cache: dict[str, dict] = {name: {} for name in self.modules}
        self.deadline = 0.0          # monotonic time the current collection should end by
        self.conn = None

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

    def collect(self, sink: Sink, timeout: float) -> None:
        self.deadline = time.monotonic() + timeout
        if self.conn is None or self.is_broken(self.conn):
            self.close()
            self.conn = self.connect(timeout)
        try:
            with self.conn.cursor() as cur:
                self.ping(cur)
        except Exception:
            self.close()
            raise
        for name, module in self.modules.items():
            with sink.collector(name, log, self.name):
                run = getattr(module, self.engine, None)
                if run is not None:
                    if self.conn is None:          # a visit elsewhere closed it
                        self.conn = self.connect(max(0.1, self.remaining()))
                    with self.conn.cursor() as cur:
                        run(cur, self, sink)
                local = getattr(module, "local", None)
                if local is not None:
                    local(self, sink)
            if self.conn is not None and self.is_broken(self.conn):
                self.close()
                raise ConnectionLost("the server closed the connection during collection")

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception as err:  # already gone: nothing to release
                log.debug("close failed", extra={"target": self.name, "err": type(err).__name__})
