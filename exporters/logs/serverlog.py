"""Database server logs: which severity each line carries, per log format.

Only the first severity token of a line counts, so a statement quoted in a
``LOG:`` line that happens to contain ``ERROR:`` is not an error.  PostgreSQL
writes its severities in the language of ``lc_messages`` (stderr and csvlog; jsonlog
stays English): every language of the server's own catalogues is recognised, from
the table :mod:`.pg_messages` that scripts/gen_pg_messages.py generates.
"""
from __future__ import annotations

import os
import re

from . import pg_messages
from .counting import FirstTokenCounter

METRIC = "aftercare_database_log_messages_total"


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
        branches = [re.escape(bytes([b])) + emit(child)
                    for b, child in sorted((k, v) for k, v in node.items() if k is not None)]
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
_PG_WANTED_PREFIX = {(w + ":  ").encode("utf-8"): label
                     for name, label in _PG_WANTED_WORDS.items()
                     for w in pg_messages.SEVERITIES[name]}
_PG_WANTED_WORD = {w.encode("utf-8"): label
                   for name, label in _PG_WANTED_WORDS.items() for w in pg_messages.SEVERITIES[name]}
_PG_WANTED_ENGLISH = {name.encode(): label for name, label in _PG_WANTED_WORDS.items()}

# format -> (regex whose group 1 is the line's severity, wanted tokens -> label)
FORMATS = {
    # stderr (log_line_prefix, then "SEVERITY:  message" in the server's lc_messages language;
    # continuation lines start "DETAIL:  ", "语句:  " ...)
    "stderr": (rb"^[^\n]*?" + _START + b"(" + _alternation(_PG_PREFIXES) + b")", _PG_WANTED_PREFIX),
    # csvlog: ...,<session start>,<vxid>,<xid>,SEVERITY,SQLSTATE,"message",... (translated too)
    "csvlog": (rb"^[^\n]*?,(" + _alternation(_PG_LEVEL_WORDS) + rb"),[0-9A-Z]{5},", _PG_WANTED_WORD),
    # jsonlog (PostgreSQL 15+): one object per line; its severity is never translated
    "jsonlog": (rb'^[^\n]*?"error_severity":"([A-Z0-9]+)"', _PG_WANTED_ENGLISH),
    # MySQL / MariaDB error log: "<time> <thread> [ERROR] ..." / "[Warning]"; MySQL 8:
    # "<time> <thread> [ERROR] [MY-010119] [Server] ..."
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
    return FirstTokenCounter(regex, wanted, METRIC)
