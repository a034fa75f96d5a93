"""Database server logs: which severity each line carries, per log format.

Only the first severity token of a line counts, so a statement quoted in a
``LOG:`` line that happens to contain ``ERROR:`` is not an error.
"""
from __future__ import annotations

import os

from ..metrics import counter
from .counting import FirstTokenCounter

MESSAGES = counter("aftercare_database_log_messages_total",
                   "Server log messages by severity: error, fatal, panic (PostgreSQL) or error, "
                   "warning (MySQL/MariaDB), kept across restarts.", "severity")

_PG_SEVERITIES = rb"DEBUG[1-5]|LOG|INFO|NOTICE|WARNING|ERROR|FATAL|PANIC|DETAIL|HINT|QUERY|CONTEXT|LOCATION|STATEMENT"
_PG_WANTED = {b"ERROR": "error", b"FATAL": "fatal", b"PANIC": "panic"}

# format -> (regex whose group 1 is the line's severity, wanted tokens -> label)
FORMATS = {
    # stderr (log_line_prefix, then "SEVERITY:  message")
    "stderr": (rb"^[^\n]*?\b(" + _PG_SEVERITIES + rb"):  ", _PG_WANTED),
    # csvlog: ...,<session start>,<vxid>,<xid>,SEVERITY,SQLSTATE,"message",...
    "csvlog": (rb"^[^\n]*?,(" + _PG_SEVERITIES + rb"),[0-9A-Z]{5},", _PG_WANTED),
    # jsonlog (PostgreSQL 15+): one object per line
    "jsonlog": (rb'^[^\n]*?"error_severity":"([A-Z0-9]+)"', _PG_WANTED),
    # MySQL / MariaDB error log: "<time> <thread> [ERROR] ..." / "[Warning]"
    "mysql": (rb"^[^\n]*?\[(ERROR|Warning|Note|System)\]", {b"ERROR": "error", b"Warning": "warning"}),
}


def log_format(db_type: str, configured: str, path: str) -> str:
    """The format to parse: the configured one, or guessed from the type and file name."""
    if configured != "auto":
        return configured
    if db_type == "mysql":
        return "mysql"
    ext = os.path.splitext(path.rstrip("*"))[1]
    return {".csv": "csvlog", ".json": "jsonlog"}.get(ext, "stderr")


def severities(fmt: str) -> tuple[str, ...]:
    """The label values a format can produce (all exposed, 0 until seen)."""
    return tuple(FORMATS[fmt][1].values())


def counter_for(fmt: str) -> FirstTokenCounter:
    regex, wanted = FORMATS[fmt]
    return FirstTokenCounter(regex, wanted, MESSAGES.name)
