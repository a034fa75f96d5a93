"""A PostgreSQL target: one reused connection, read-only, with timeouts."""
from __future__ import annotations

import logging
import math

import psycopg2

from ..config import Database
from ..metrics import LOG_NAME, Sink
from ..runtime import Target

log = logging.getLogger(LOG_NAME)


def classify_pg_error(err: BaseException) -> str:
    """Map a connection failure to a bounded reason."""
    text = str(err).lower()
    if isinstance(err, TimeoutError) or "timeout expired" in text or "timed out" in text:
        return "timeout"
    if "could not translate host name" in text or "name or service not known" in text:
        return "dns"
    if any(k in text for k in ("authentication failed", "no pg_hba.conf entry", "password",
                                "does not exist", "permission denied")):
        return "auth"
    if isinstance(err, psycopg2.OperationalError) and (
            "connect" in text or "refused" in text or "server closed" in text):
        return "connect"
    return "error"


class PostgresTarget(Target):
    def __init__(self, system: str, db: Database, collectors: dict):
        super().__init__(system, db.name, db.timeout)
        self.db = db
        self.modules = {name: m for name, m in collectors.items() if hasattr(m, "postgresql")}
        self.collectors = tuple(self.modules)
        self.conn = None

    def connect(self, timeout: float):
        dsn, ms = self.db.dsn, int(timeout * 1000)
        kwargs = dict(dsn.params)
        kwargs.update(
            host=dsn.host, port=dsn.port or 5432, user=dsn.user, dbname=dsn.database or "postgres",
            # libpq's minimum is 2 s; the runtime stops waiting at the timeout anyway
            connect_timeout=max(2, math.ceil(timeout)),
            application_name="aftercare-exporter",
            options=f"-c statement_timeout={ms} -c lock_timeout={ms} "
                    f"-c idle_in_transaction_session_timeout={max(ms, 10000)} "
                    "-c default_transaction_read_only=on",
            keepalives=1, keepalives_idle=max(1, int(timeout)), keepalives_interval=1,
            keepalives_count=3, tcp_user_timeout=ms)
        if self.db.password:
            kwargs["password"] = self.db.password.reveal()
        conn = psycopg2.connect(**kwargs)
        conn.autocommit = True
        return conn

    def collect(self, sink: Sink, timeout: float) -> None:
        if self.conn is None or self.conn.closed:
            self.conn = self.connect(timeout)
        try:
            with self.conn.cursor() as cur:
                cur.execute("SELECT 1")
        except psycopg2.Error:
            self.close()
            raise
        for name, module in self.modules.items():
            with sink.collector(name, log, self.name):
                with self.conn.cursor() as cur:
                    module.postgresql(cur, self.db, sink)
            if self.conn.closed:        # the server went away mid-scrape
                self.close()
                raise psycopg2.OperationalError("server closed the connection during collection")

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None and not conn.closed:
            conn.close()
