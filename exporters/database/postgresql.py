"""A PostgreSQL target: one reused connection, read-only, with timeouts."""
from __future__ import annotations

import math
from contextlib import contextmanager

import psycopg2

from .target import DatabaseTarget


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


class PostgresTarget(DatabaseTarget):
    engine = "postgresql"

    def connect(self, timeout: float, database: str | None = None):
        dsn, ms = self.db.dsn, max(100, int(timeout * 1000))
        kwargs = dict(dsn.params)
        kwargs.update(
            host=dsn.host, port=dsn.port or 5432, user=dsn.user,
            dbname=database or dsn.database or "postgres",
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

    def is_broken(self, conn) -> bool:
        return bool(conn.closed)

    def ping(self, cur) -> None:
        cur.execute("SELECT 1")

    @property
    def home(self) -> str:
        return self.db.dsn.database or "postgres"

    @contextmanager
    def visit(self, database: str):
        """A cursor on another database of the server, for deferred work (see
        ``defer``).  The target's own connection is closed first and reopened
        afterwards, so there is never more than one open."""
        self.drop()
        conn = self.connect(max(0.1, self.remaining()), database)
        try:
            with conn.cursor() as cur:
                yield cur
        finally:
            conn.close()
            if not self.retired:
                home = self.connect(max(0.1, self.remaining()))
                if self.retired:         # closed for good while we reconnected
                    home.close()
                else:
                    self.conn = home
