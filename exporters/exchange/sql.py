"""Evidence from a table the job itself writes: one configured SQL query.

The query runs as written (it is the operator's, never assembled from
values), read-only, under a statement timeout, and must return one row with
some of these columns, found by name:

    last_success   when the last successful run ended (timestamp or Unix seconds) - required
    last_run       when the last run ended, successful or not
    status         the last run's outcome: success/succeeded/ok/done/completed (any case),
                   true, or exit code 0 mean success; anything else is a failure
    records        records the last run exchanged
    duration       seconds the last run took

A timestamp without a time zone is read in the system's time zone.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from datetime import time as dtime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ..config import Database

SUCCESS_WORDS = {"success", "succeeded", "successful", "ok", "done", "completed", "complete"}


class QueryError(Exception):
    """The query's answer does not fit; the message is safe to log."""


def to_epoch(value, timezone: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise QueryError("expected a time, got a boolean")
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise QueryError("expected a time, got text that is not ISO 8601") from None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, dtime())
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=ZoneInfo(timezone))
        return value.timestamp()
    raise QueryError(f"expected a time, got {type(value).__name__}")


def to_ok(value) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, Decimal)):
        return value == 0
    if isinstance(value, str):
        return value.strip().lower() in SUCCESS_WORDS
    raise QueryError(f"expected a status word, boolean or exit code, got {type(value).__name__}")


def to_number(value, what: str) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise QueryError(f"expected a number for {what}") from None
    if math.isnan(number) or number < 0:
        raise QueryError(f"expected a non-negative number for {what}")
    return number


def read_row(columns: list[str], row, timezone: str) -> dict:
    """The query's first row as evidence fields."""
    names = [c.lower() for c in columns]
    if "last_success" not in names:
        raise QueryError(
            f"the query must return a column named last_success "
            f"(it returned: {', '.join(names) or 'none'})"
        )
    if row is None:
        return {
            "last_success": None,
            "last_run": None,
            "ok": None,
            "records": None,
            "duration": None,
        }
    values = dict(zip(names, row, strict=True))
    records = to_number(values.get("records"), "records")
    return {
        "last_success": to_epoch(values.get("last_success"), timezone),
        "last_run": to_epoch(values.get("last_run"), timezone),
        "ok": to_ok(values.get("status")),
        "records": None if records is None else int(records),
        "duration": to_number(values.get("duration"), "duration"),
    }


class SqlSource:
    """One reused, read-only connection to the job's database."""

    def __init__(self, db: Database, sql: str, timezone: str):
        self.db, self.sql, self.timezone = db, sql, timezone
        self.conn: Any = None

    def _connect(self, timeout: float):
        dsn = self.db.dsn
        password = self.db.password.reveal() if self.db.password else None
        if self.db.type == "postgresql":
            import psycopg2

            ms = int(timeout * 1000)
            kwargs: dict[str, Any] = dict(dsn.params)
            kwargs.update(
                host=dsn.host,
                port=dsn.port or 5432,
                user=dsn.user,
                dbname=dsn.database or "postgres",
                connect_timeout=max(2, math.ceil(timeout)),
                application_name="aftercare-exporter",
                options=f"-c statement_timeout={ms} -c lock_timeout={ms} "
                "-c default_transaction_read_only=on",
            )
            if password:
                kwargs["password"] = password
            conn = psycopg2.connect(**kwargs)
            conn.autocommit = True
            return conn
        import pymysql

        conn = pymysql.connect(
            host=dsn.host,
            port=dsn.port or 3306,
            user=dsn.user or "",
            password=password or "",
            database=dsn.database,
            connect_timeout=max(1, math.ceil(timeout)),
            read_timeout=max(1, math.ceil(timeout)),
            autocommit=True,
        )
        with conn.cursor() as cur:
            cur.execute("SET SESSION TRANSACTION READ ONLY")
        return conn

    def fetch(self, timeout: float) -> dict:
        if (
            self.conn is None
            or getattr(self.conn, "closed", False)
            or (self.db.type == "mysql" and not self.conn.open)
        ):
            self.conn = self._connect(timeout)
        conn = self.conn
        try:
            with conn.cursor() as cur:
                cur.execute(self.sql)
                columns = [d[0] for d in cur.description or ()]
                row = cur.fetchone() if columns else None
        except QueryError:
            raise
        except Exception:
            self.close()  # a fresh connection next time
            raise
        return read_row(columns, row, self.timezone)

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass
