"""PostgreSQL server logs written in the server's own language are counted exactly.

A server whose lc_messages is Chinese writes ``错误:  关系 "x" 不存在``; one set
to German ``FEHLER:  ...``.  The tests run a real PostgreSQL under zh_CN with the
stderr, csvlog and jsonlog destinations on, make sessions in several languages
fail, and compare the exporter's counts with what the test made happen.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest

from devstack import REPO_ROOT
from devstack.mariadb import ThrowawayMariaDB
from devstack.postgres import ThrowawayPostgres
from exporters.config import validate
from exporters.logs import pg_messages, serverlog
from exporters.logs.areas import DatabaseLogArea
from exporters.runtime import Scraper

# the server's default language, then the sessions' own (each has a catalogue in the package)
SERVER_LOCALE = "zh_CN.UTF-8"
SESSION_LOCALES = [
    "zh_CN.UTF-8",
    "zh_TW.UTF-8",
    "ja_JP.UTF-8",
    "ko_KR.UTF-8",
    "de_DE.UTF-8",
    "fr_FR.UTF-8",
    "ru_RU.UTF-8",
    "C",
]
METRIC = "aftercare_database_log_messages_total"


def installed_locales() -> set[str]:
    out = subprocess.run(["locale", "-a"], capture_output=True, text=True, check=True).stdout
    return {name.lower().replace("utf8", "utf-8") for name in out.split()}


@pytest.fixture(scope="module")
def localized_pg():
    missing = [loc for loc in SESSION_LOCALES[:-1] if loc.lower() not in installed_locales()]
    if missing:
        pytest.fail(
            f"locales {missing} are not installed: `make system-deps` creates them "
            "(localedef -i zh_CN -f UTF-8 zh_CN.UTF-8 ...)"
        )
    settings = {
        "lc_messages": f"'{SERVER_LOCALE}'",
        "logging_collector": "on",
        "log_destination": "'stderr,csvlog,jsonlog'",
        "log_directory": "'log'",
        "log_filename": "'postgresql'",
        "log_statement": "'all'",
        "log_min_duration_statement": "100",
    }
    with ThrowawayPostgres(settings=settings) as pg:
        pg.start()
        yield pg


def area_for(tmp_path: Path, path: Path, fmt: str) -> DatabaseLogArea:
    raw = {
        "defaults": {"timeout": "5s", "state_dir": str(tmp_path / f"state-{fmt}")},
        "systems": [
            {
                "name": "billing",
                "databases": [
                    {
                        "name": "pg",
                        "type": "postgresql",
                        "dsn": "postgresql://postgres@127.0.0.1:1/postgres",
                        "log": {"path": str(path), "format": fmt},
                    }
                ],
            }
        ],
    }
    return DatabaseLogArea(validate(raw, "test.yml"))


def counts(area: DatabaseLogArea) -> dict[str, float]:
    """Messages by severity, and the slow statements' total, histogram count and sum."""
    out = {}
    for family in Scraper([area]).scrape(5.0):
        for s in family.samples:
            if s.name == METRIC:
                out[s.labels["severity"]] = s.value
            elif s.name in (
                serverlog.SLOW.name,
                serverlog.SLOW_SECONDS.name + "_count",
                serverlog.SLOW_SECONDS.name + "_sum",
            ):
                out[s.name] = s.value
            elif s.name == serverlog.SLOW_SECONDS.name + "_bucket" and s.labels["le"] == "0.25":
                out["le_0.25"] = s.value
    return out


def log_areas(tmp_path: Path, log_dir: Path) -> dict[str, DatabaseLogArea]:
    return {
        fmt: area_for(tmp_path, log_dir / name, fmt)
        for fmt, name in [
            ("stderr", "postgresql"),
            ("csvlog", "postgresql.csv"),
            ("jsonlog", "postgresql.json"),
        ]
    }


def wait_for_deltas(areas, before, expected, keys, approx=None) -> None:
    """Until every format's counts moved by ``expected`` (15 s at most), then once more."""

    def delta(fmt: str) -> dict[str, float]:
        now = counts(areas[fmt])
        return {k: now[k] - before[fmt][k] for k in keys}

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(
        {k: v for k, v in delta(f).items() if k in expected} != expected for f in areas
    ):
        time.sleep(0.2)
    time.sleep(0.5)  # nothing more arrives late
    for fmt in areas:
        got = delta(fmt)
        assert {k: v for k, v in got.items() if k in expected} == expected, fmt
        if approx:
            approx(fmt, got)


def make_trouble(pg: ThrowawayPostgres) -> tuple[int, int]:
    """Errors and fatals in every session language; returns (errors, fatals) made."""
    errors = fatals = 0
    for locale in SESSION_LOCALES:
        conn = pg.connect()
        with conn.cursor() as cur:
            cur.execute(f"SET lc_messages = '{locale}'")
            # a statement quoting severity words is logged as a statement, not as an error
            cur.execute("SELECT 'ERROR:  错误:  致命错误:  FEHLER:  ' AS quoted")
            for _ in range(2):
                with pytest.raises(psycopg2.errors.UndefinedTable):
                    cur.execute("SELECT * FROM aftercare_no_such_table")
                errors += 1
        conn.close()
        with pytest.raises(psycopg2.OperationalError):
            psycopg2.connect(
                pg.dsn(user="aftercare_no_such_role"),
                connect_timeout=5,
                options=f"-c lc_messages={locale}",
            )
        fatals += 1
    return errors, fatals


def test_server_language_errors_and_fatals_counted_exactly(localized_pg, tmp_path):
    log_dir = localized_pg.data_dir / "log"
    areas = log_areas(tmp_path, log_dir)
    before = {fmt: counts(area) for fmt, area in areas.items()}
    errors, fatals = make_trouble(localized_pg)
    expected = {"error": errors, "fatal": fatals, "panic": 0}
    wait_for_deltas(areas, before, expected, list(expected))
    stderr_text = (log_dir / "postgresql").read_text(encoding="utf-8")
    assert "错误:  " in stderr_text and "致命错误:  " in stderr_text and "FEHLER:  " in stderr_text


def test_completed_slow_statements_equal_what_the_server_logged(localized_pg, tmp_path):
    """log_min_duration_statement = 100 ms: statements of 150 ms and 300 ms in every session
    language are slow, one of 10 ms is not; each is counted once with its duration."""
    log_dir = localized_pg.data_dir / "log"
    areas = log_areas(tmp_path, log_dir)
    before = {fmt: counts(area) for fmt, area in areas.items()}
    slow, slept = 0, 0.0
    for i, locale in enumerate(SESSION_LOCALES):
        conn = localized_pg.connect()
        with conn.cursor() as cur:
            cur.execute(f"SET lc_messages = '{locale}'")
            # logged already (log_statement): "duration: N ms"; if not: "... ms  statement: ..."
            cur.execute(f"SET log_statement = '{'all' if i % 2 else 'none'}'")
            for seconds in (0.15, 0.3, 0.01):
                cur.execute("SELECT pg_sleep(%s)", (seconds,))
                if seconds > 0.1:
                    slow, slept = slow + 1, slept + seconds
            cur.execute("PREPARE nap AS SELECT pg_sleep(0.15)")
            cur.execute("EXECUTE nap")
            slow, slept = slow + 1, slept + 0.15
        conn.close()
    keys = [
        serverlog.SLOW.name,
        serverlog.SLOW_SECONDS.name + "_count",
        serverlog.SLOW_SECONDS.name + "_sum",
        "le_0.25",
    ]
    expected = {
        serverlog.SLOW.name: slow,
        serverlog.SLOW_SECONDS.name + "_count": slow,
        "le_0.25": 2 * len(SESSION_LOCALES),
    }  # the 150 ms ones

    def durations_add_up(fmt, got):
        # each took at least its sleep and less than 100 ms more
        assert slept <= got[serverlog.SLOW_SECONDS.name + "_sum"] < slept + 0.1 * slow, fmt

    wait_for_deltas(areas, before, expected, keys, durations_add_up)
    stderr_text = (log_dir / "postgresql").read_text(encoding="utf-8")
    assert "耗时: " in stderr_text and "Dauer: " in stderr_text and "duration: " in stderr_text
    assert " ms  语句: SELECT pg_sleep" in stderr_text  # the form with the statement


def test_every_catalogue_slow_statement_form_is_recognised():
    counter = serverlog.SlowStatementCounter("stderr")
    for prefix, middle in pg_messages.SLOW_STATEMENTS:
        for word in pg_messages.SEVERITIES["LOG"]:
            line = f"2026-12-01 10:00:00.000 CST [4242] {word}:  {prefix}1234.5{middle}x\n"
            assert counter(line.encode())[(serverlog.SLOW.name,)] == 1, line
    for prefix, middle in pg_messages.PLAIN_DURATIONS:
        line = f"2026-12-01 10:00:00.000 CST [4242] LOG:  {prefix}2500.0{middle}\n"
        out = counter(line.encode())
        assert (
            out[(serverlog.SLOW.name,)] == 1
            and out[(serverlog.SLOW_SECONDS.name, "sum", "")] == 2.5
        )
    # an ERROR quoting a duration, and a duration word inside another LOG message, are not
    assert (
        counter(
            b"x [1] ERROR:  duration: 5 ms  statement: q\n"
            b"x [1] LOG:  checkpoint complete: duration: 5 ms\n"
        )
        == {}
    )


def test_every_catalogue_language_is_recognised_in_stderr_and_csvlog():
    """Each translated ERROR/FATAL word, in the shape the server writes it, maps to its label."""
    stderr = serverlog.counter_for("stderr")
    csvlog = serverlog.counter_for("csvlog")
    for name, label in [("ERROR", "error"), ("FATAL", "fatal"), ("PANIC", "panic")]:
        for word in pg_messages.SEVERITIES[name]:
            line = f"2026-12-01 10:00:00.000 CST [4242] {word}:  x\n".encode()
            assert stderr(line) == {(serverlog.MESSAGES.name, label): 1}, word
            row = (
                f'2026-12-01 10:00:00.000 CST,"u","d",4242,"127.0.0.1:5",6b0f.1,1,"SELECT",'
                f'2026-12-01 10:00:00 CST,3/2,0,{word},42P01,"x",,,,,,"q",15,,'
                '"","client backend",,0\n'
            )
            assert csvlog(row.encode()) == {(serverlog.MESSAGES.name, label): 1}, word
    # a continuation line that quotes an error is not an error
    for prefix in pg_messages.CONTINUATIONS:
        line = f"2026-12-01 10:00:00.000 CST [4242] {prefix}SELECT 'ERROR:  错误:  '\n".encode()
        assert stderr(line) == {}, prefix


def test_mysql8_error_log_form_counts():
    """MySQL 8 writes ``[ERROR] [MY-010119] [Server]``; recorded from a MySQL 8.0.36 server."""
    counter = serverlog.counter_for("mysql")
    lines = (
        b"2026-12-01T10:00:00.123456Z 0 [System] [MY-010116] [Server] /usr/sbin/mysqld "
        b"(mysqld 8.0.36) starting as process 1\n"
        b"2026-12-01T10:00:01.000000Z 0 [ERROR] [MY-010119] [Server] Aborting\n"
        b"2026-12-01T10:00:02.000000Z 8 [Warning] [MY-010055] [Server] IP address '10.0.0.9' "
        b"could not be resolved: Name or service not known\n"
        b"2026-12-01T10:00:03.000000Z 9 [Note] [MY-010914] [Server] Aborted connection 9 "
        b"to db: 'x' user: 'u' host: 'h' (Got an error reading communication packets)\n"
    )
    assert counter(lines) == {
        (serverlog.MESSAGES.name, "error"): 1,
        (serverlog.MESSAGES.name, "warning"): 1,
    }


def test_generated_table_matches_the_installed_catalogues(tmp_path):
    """scripts/gen_pg_messages.py, run again on this machine's catalogues, writes the committed
    file."""
    out = tmp_path / "pg_messages.py"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "scripts.gen_pg_messages",
            "--versions",
            *pg_messages.VERSIONS,
            "--out",
            str(out),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    committed = (REPO_ROOT / "exporters" / "logs" / "pg_messages.py").read_text(encoding="utf-8")
    assert out.read_text(encoding="utf-8") == committed
    assert {"zh_CN", "zh_TW", "ja", "ko", "de", "fr", "ru"} <= set(pg_messages.LANGUAGES)
    assert (
        "错误" in pg_messages.SEVERITIES["ERROR"] and "致命错误" in pg_messages.SEVERITIES["FATAL"]
    )


def test_mariadb_slow_query_log_counts_each_slow_statement(tmp_path):
    """A second MariaDB with slow_query_log on (long_query_time 0.1 s): each statement slower
    than that is one record of its slow query log, and one count here, with its Query_time."""
    server = ThrowawayMariaDB()
    server.settings = {
        "slow-query-log": "1",
        "slow-query-log-file": str(server.slow_log),
        "long-query-time": "0.1",
    }
    with server:
        raw = {
            "defaults": {"timeout": "5s", "state_dir": str(tmp_path / "state")},
            "systems": [
                {
                    "name": "billing",
                    "databases": [
                        {
                            "name": "maria",
                            "type": "mysql",
                            "dsn": server.dsn(),
                            "slow_log": {"path": str(server.slow_log)},
                        }
                    ],
                }
            ],
        }
        area = DatabaseLogArea(validate(raw, "test.yml"))
        before = counts(area)
        conn = server.connect()
        with conn.cursor() as cur:
            for seconds in (0.2, 0.15, 0.3, 0.01, 0.12):
                cur.execute("SELECT SLEEP(%s)", (seconds,))
            cur.execute("SELECT 1")
        conn.close()
        slow = 4
        deadline = time.monotonic() + 15
        while counts(area)[serverlog.SLOW.name] - before[serverlog.SLOW.name] < slow:
            assert time.monotonic() < deadline, counts(area)
            time.sleep(0.2)
        time.sleep(0.3)
        now = counts(area)
        # the server's own records, read here with a regex of the test's own
        logged = [
            float(x)
            for x in re.findall(r"^# Query_time: ([0-9.]+)", server.slow_log.read_text(), re.M)
        ]
    assert now[serverlog.SLOW.name] - before[serverlog.SLOW.name] == slow == len(logged)
    assert now[serverlog.SLOW_SECONDS.name + "_count"] == slow
    assert now[serverlog.SLOW_SECONDS.name + "_sum"] == pytest.approx(sum(logged))
    assert now["le_0.25"] == sum(1 for x in logged if x <= 0.25) == 3  # 0.2, 0.15, 0.12 s


def test_statement_text_is_shown_only_for_data_statements():
    from exporters.database.statements import TEXT_LIMIT, shown_text

    assert shown_text("SELECT pg_sleep($1)") == "SELECT pg_sleep($1)"
    assert (
        shown_text("  with x as (select 1)\n  select * from x")
        == "with x as (select 1) select * from x"
    )
    assert shown_text("ALTER ROLE app PASSWORD 'secret'") is None
    assert shown_text("CREATE USER u IDENTIFIED BY 'secret'") is None
    assert shown_text("SET password = 'secret'") is None
    assert (
        shown_text("SELECT * FROM t WHERE note = 'it''s secret' AND b = $tag$x$tag$")
        == "SELECT * FROM t WHERE note = ? AND b = ?"
    )
    long = shown_text("SELECT " + ", ".join(f"c{i}" for i in range(200)) + " FROM t")
    assert len(long) == TEXT_LIMIT and long.endswith("…")
    assert shown_text(None) is None
