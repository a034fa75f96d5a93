"""Database server logs: which severity each line carries, per log format.

Only the first severity token of a line counts, so a statement quoted in a
``LOG:`` line that happens to contain ``ERROR:`` is not an error.  PostgreSQL
writes its severities in the language of ``lc_messages`` (stderr and csvlog; jsonlog
stays English): every language of the server's own catalogues is recognised, from
the table :mod:`.pg_messages` that scripts/gen_pg_messages.py generates.
"""

from __future__ import annotations

import bisect
import os
import re
from collections import Counter

from ..metrics import counter, histogram
from . import pg_messages
from .counting import FirstTokenCounter

MESSAGES = counter(
    "aftercare_database_log_messages_total",
    "Server log messages by severity: error, fatal, panic (PostgreSQL) or error, "
    "warning (MySQL/MariaDB), kept across restarts.",
    "severity",
)
SLOW = counter(
    "aftercare_database_slow_statements_total",
    "Statements that completed slower than the server's own threshold (PostgreSQL "
    "log_min_duration_statement, from the server log; MySQL/MariaDB long_query_time, from "
    "the slow query log), kept across restarts.",
)
SLOW_SECONDS = histogram(
    "aftercare_database_slow_statement_duration_seconds",
    "How long each completed slow statement took, as the server logged it, in seconds.",
)
# seconds; log_min_duration_statement is usually between 100 ms and a few seconds
SLOW_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0)


def _alternation(words) -> bytes:
    """A regex matching any of the literal words, as a trie (one branch per next byte),
    so a position is given up after a byte or two instead of trying every word."""
    trie: dict = {}
    for word in {w.encode("utf-8") for w in words}:
        node = trie
        for byte in word:
            node = node.setdefault(byte, {})
        node[None] = True

    def emit(node: dict) -> bytes:
        branches = [
            re.escape(bytes([b])) + emit(child)
            for b, child in sorted((k, v) for k, v in node.items() if k is not None)
        ]
        if not branches:
            return b""
        body = branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"
        return b"(?:" + body + b")?" if None in node else body

    return emit(trie)


# a severity word starts the line's message: nothing word-like (nor a UTF-8 byte) just before it
_START = rb"(?<![A-Za-z0-9_\x80-\xff])"
_PG_LEVEL_WORDS = [w for words in pg_messages.SEVERITIES.values() for w in words]
_PG_PREFIXES = [w + ":  " for w in _PG_LEVEL_WORDS] + list(pg_messages.CONTINUATIONS)
_PG_WANTED_WORDS = {"ERROR": "error", "FATAL": "fatal", "PANIC": "panic"}
# the tokens as each format captures them -> label
_PG_WANTED_PREFIX = {
    (w + ":  ").encode("utf-8"): label
    for name, label in _PG_WANTED_WORDS.items()
    for w in pg_messages.SEVERITIES[name]
}
_PG_WANTED_WORD = {
    w.encode("utf-8"): label
    for name, label in _PG_WANTED_WORDS.items()
    for w in pg_messages.SEVERITIES[name]
}
_PG_WANTED_ENGLISH = {name.encode(): label for name, label in _PG_WANTED_WORDS.items()}

# format -> (regex whose group 1 is the line's severity, wanted tokens -> label)
FORMATS = {
    # stderr (log_line_prefix, then "SEVERITY:  message" in the server's lc_messages language;
    # continuation lines start "DETAIL:  ", "语句:  " ...)
    "stderr": (rb"^[^\n]*?" + _START + b"(" + _alternation(_PG_PREFIXES) + b")", _PG_WANTED_PREFIX),
    # csvlog: ...,<session start>,<vxid>,<xid>,SEVERITY,SQLSTATE,"message",... (translated too)
    "csvlog": (
        rb"^[^\n]*?,(" + _alternation(_PG_LEVEL_WORDS) + rb"),[0-9A-Z]{5},",
        _PG_WANTED_WORD,
    ),
    # jsonlog (PostgreSQL 15+): one object per line; its severity is never translated
    "jsonlog": (rb'^[^\n]*?"error_severity":"([A-Z0-9]+)"', _PG_WANTED_ENGLISH),
    # MySQL / MariaDB error log: "<time> <thread> [ERROR] ..." / "[Warning]"; MySQL 8:
    # "<time> <thread> [ERROR] [MY-010119] [Server] ..."
    "mysql": (
        rb"^[^\n]*?\[(ERROR|Warning|Note|System)\]",
        {b"ERROR": "error", b"Warning": "warning"},
    ),
}


# a statement slower than log_min_duration_statement: "LOG:  duration: 1234.567 ms  statement: ..."
# (and execute / bind / parse / fastpath), in the server's language; the number is group 1
_DURATION = (
    b"(?:"
    + _alternation(p for p, _ in pg_messages.SLOW_STATEMENTS + pg_messages.PLAIN_DURATIONS)
    + rb")([0-9]+(?:\.[0-9]+)?)(?:"
    + _alternation(
        m.split('"')[0].split("\u00ab")[0].split("\u00bb")[0]
        for _, m in pg_messages.SLOW_STATEMENTS
    )
    # the plain form ends the message (the line, or the csv/json field)
    + b"|(?:"
    + _alternation(m for _, m in pg_messages.PLAIN_DURATIONS)
    + rb')(?="|\r?$))'
)
_PG_LOG = pg_messages.SEVERITIES["LOG"]
SLOW_FORMATS = {
    "stderr": rb"^[^\n]*?"
    + _START
    + b"(?:"
    + _alternation(w + ":  " for w in _PG_LOG)
    + b")"
    + _DURATION,
    "csvlog": rb"^[^\n]*?,(?:" + _alternation(_PG_LOG) + rb"),00000,\"" + _DURATION,
    "jsonlog": rb'^[^\n]*?"error_severity":"LOG",[^\n]*?"message":"' + _DURATION,
    # the MySQL / MariaDB slow query log: one "# Query_time: 2.000337  Lock_time: ..." per statement
    "mysql-slow": rb"^# Query_time: ([0-9]+(?:\.[0-9]+)?)",
}
_MILLISECONDS = {"stderr": True, "csvlog": True, "jsonlog": True, "mysql-slow": False}


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


class SlowStatementCounter:
    """Completed slow statements of one chunk, and their durations as a histogram."""

    def __init__(self, fmt: str):
        self.regex = re.compile(SLOW_FORMATS[fmt] + rb"[^\n]*", re.MULTILINE)
        self.scale = 0.001 if _MILLISECONDS[fmt] else 1.0

    def __call__(self, chunk: bytes) -> Counter:
        out: Counter[tuple] = Counter()
        found = self.regex.findall(chunk)
        if not found:
            return out
        out[(SLOW.name,)] = len(found)
        for raw, n in Counter(found).items():
            seconds = float(raw) * self.scale
            for bound in SLOW_BUCKETS[bisect.bisect_left(SLOW_BUCKETS, seconds) :]:
                out[(SLOW_SECONDS.name, "bucket", _le(bound))] += n
            out[(SLOW_SECONDS.name, "bucket", "+Inf")] += n
            out[(SLOW_SECONDS.name, "sum", "")] += seconds * n  # type: ignore[assignment]  # a sum
            out[(SLOW_SECONDS.name, "count", "")] += n
        return out


def slow_zero_keys():
    """The slow-statement series, exposed at 0 before the first one."""
    yield (SLOW.name,)
    for bound in SLOW_BUCKETS:
        yield (SLOW_SECONDS.name, "bucket", _le(bound))
    yield (SLOW_SECONDS.name, "bucket", "+Inf")
    yield (SLOW_SECONDS.name, "sum", "")
    yield (SLOW_SECONDS.name, "count", "")


class ServerLogCounter:
    """A PostgreSQL server log: severities and completed slow statements from one read."""

    def __init__(self, fmt: str):
        self.severities = counter_for(fmt)
        self.slow = SlowStatementCounter(fmt)

    def __call__(self, chunk: bytes) -> Counter:
        out = self.severities(chunk)
        out.update(self.slow(chunk))
        return out


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
