"""Performance: the top-N statements by total execution time.

PostgreSQL: pg_stat_statements, when the extension is created in the DSN's
database and loaded; MySQL: performance_schema's digest summary, when
performance_schema is on.  The series are labelled by the statement's queryid
(digest); its normalised text is only in aftercare_database_statement_info, and
only for data statements (SELECT, INSERT, UPDATE, DELETE, WITH, MERGE, VALUES),
whose constants the server has already replaced ($1, ?), with any quoted string
left replaced here too and the text cut at 160 characters: a utility statement
(ALTER ROLE ... PASSWORD '...') is never shown.  When the source is absent the
collector succeeds and says so with aftercare_database_statements_available 0.
The member set is sticky (see topn.py), so the label sets stay put while the
ranking shuffles.
"""

from __future__ import annotations

import re

import psycopg2

from ..metrics import counter, gauge
from . import topn

RUNS = ("postgresql", "mysql")

STATEMENTS_AVAILABLE = gauge(
    "aftercare_database_statements_available",
    "1 if per-statement statistics can be read (pg_stat_statements, or performance_schema "
    "on MySQL), 0 if the source is absent and the statement metrics are skipped.",
)
STATEMENT_SECONDS_TOTAL = counter(
    "aftercare_database_statement_seconds_total",
    "Total execution time of the statement, summed over its calls, in seconds (top-N "
    "statements by this time).",
    "datname",
    "queryid",
)
STATEMENT_CALLS_TOTAL = counter(
    "aftercare_database_statement_calls_total",
    "Times the statement was executed, a count (top-N statements).",
    "datname",
    "queryid",
)
STATEMENT_ROWS_TOTAL = counter(
    "aftercare_database_statement_rows_total",
    "Rows the statement returned or affected, a count (top-N statements).",
    "datname",
    "queryid",
)

STATEMENT_INFO = gauge(
    "aftercare_database_statement_info",
    "The normalised text of a top-N data statement (constants replaced, cut at 160 "
    "characters), always 1; utility statements are not shown.",
    "datname",
    "queryid",
    "statement",
)

_DATA_STATEMENT = re.compile(r"\s*\(?\s*(SELECT|INSERT|UPDATE|DELETE|WITH|MERGE|VALUES)\b", re.I)
_QUOTED = re.compile(r"'(?:[^']|'')*'|\$([A-Za-z_]*)\$.*?\$\1\$", re.S)
TEXT_LIMIT = 160


def shown_text(text: str | None) -> str | None:
    """The statement as it may be shown, or None (not a data statement)."""
    if not text or not _DATA_STATEMENT.match(text):
        return None
    text = " ".join(_QUOTED.sub("?", text).split())
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


_PG_AVAILABLE = """
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements')
       AND current_setting('server_version_num')::int >= 130000
"""

# a few hundred more than N, so that sticky members ranked just below N are seen
_PG_STATEMENTS = """
SELECT d.datname, s.queryid::text, sum(s.total_exec_time) / 1000.0, sum(s.calls), sum(s.rows),
       min(s.query)
FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
WHERE s.queryid IS NOT NULL
GROUP BY d.datname, s.queryid
ORDER BY 3 DESC
LIMIT %s
"""

_MYSQL_STATEMENTS = """
SELECT COALESCE(SCHEMA_NAME, ''), DIGEST, SUM_TIMER_WAIT / 1e12, COUNT_STAR,
       SUM_ROWS_SENT + SUM_ROWS_AFFECTED, DIGEST_TEXT
FROM performance_schema.events_statements_summary_by_digest
WHERE DIGEST IS NOT NULL
ORDER BY SUM_TIMER_WAIT DESC
LIMIT %s
"""


def _emit(rows, target, sink) -> None:
    n = target.db.top_tables
    stats = {
        (datname, queryid): (seconds, calls, rws, text)
        for datname, queryid, seconds, calls, rws, text in rows
    }
    memory = target.cache["statements"]
    keys = {"\t".join(k): k for k in stats}
    members = topn.choose(memory.get("members", []), {k: float(stats[keys[k]][0]) for k in keys}, n)
    memory["members"] = members
    for member in members:
        datname, queryid = keys[member]
        seconds, calls, rws, text = stats[keys[member]]
        sink.add(STATEMENT_SECONDS_TOTAL, seconds, datname, queryid)
        sink.add(STATEMENT_CALLS_TOTAL, calls, datname, queryid)
        sink.add(STATEMENT_ROWS_TOTAL, rws or 0, datname, queryid)
        shown = shown_text(text)
        if shown is not None:
            sink.add(STATEMENT_INFO, 1, datname, queryid, shown)


def postgresql(cur, target, sink) -> None:
    cur.execute(_PG_AVAILABLE)
    available = cur.fetchone()[0]
    if available:
        try:
            cur.execute(_PG_STATEMENTS, (target.db.top_tables + 200,))
        except psycopg2.errors.ObjectNotInPrerequisiteState:
            available = False  # created but not in shared_preload_libraries
    sink.add(STATEMENTS_AVAILABLE, 1 if available else 0)
    if available:
        _emit(cur.fetchall(), target, sink)


def mysql(cur, target, sink) -> None:
    cur.execute("SELECT @@performance_schema")
    available = bool(cur.fetchone()[0])
    sink.add(STATEMENTS_AVAILABLE, 1 if available else 0)
    if available:
        cur.execute(_MYSQL_STATEMENTS, (target.db.top_tables + 200,))
        _emit(cur.fetchall(), target, sink)
