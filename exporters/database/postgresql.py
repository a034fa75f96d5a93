"""A PostgreSQL target: one reused connection, read-only, with timeouts."""

from __future__ import annotations

from contextlib import contextmanager

from ..drivers import postgresql as driver
from .target import DatabaseTarget


class PostgresTarget(DatabaseTarget):
    engine = "postgresql"

    def connect(self, timeout: float, database: str | None = None):
        return driver.connect(self.db.dsn, self.db.password, timeout, database=database)

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
                if self.retired:  # closed for good while we reconnected
                    home.close()
                else:
                    self.conn = home
