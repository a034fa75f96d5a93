"""Chunk counting equals a per-line ``re.search`` loop, whatever the pattern or bytes."""

from __future__ import annotations

import random
import re

import pytest

from exporters.logs import access, serverlog
from exporters.logs.counting import LevelCounter, LinePattern


def per_line(pattern: bytes, chunk: bytes, flags: int = 0) -> int:
    rx = re.compile(pattern, flags | re.MULTILINE)
    lines = chunk.split(b"\n")
    if chunk.endswith(b"\n"):
        lines.pop()
    return sum(1 for line in lines if rx.search(line))


def random_log(seed: int, lines: int = 3000) -> bytes:
    rnd = random.Random(seed)
    words = [
        b"ERROR",
        b"WARN",
        b"INFO",
        b"error",
        b"Exception",
        b"ERRORS",
        b"  ",
        b"\t",
        b"x",
        b"\xff\xfe",
        b"\x00",
        b"\xe4\xbd\xa0\xe5\xa5\xbd",
        b"\r",
        b"payment",
        b"gateway",
        b"",
    ]
    return b"".join(
        b" ".join(rnd.choice(words) for _ in range(rnd.randint(0, 8))) + b"\n" for _ in range(lines)
    )


PATTERNS = [
    "ERROR",
    "WARN",
    "ERROR|FATAL|CRITICAL|Exception",
    r"^ERROR",
    r"ERROR$",
    r"\bERROR\b",
    r"payment\s+gateway",  # \s may cross a newline: per-line fallback
    r"[^x]ERROR",  # negated class may match "\n"
    r"(?i)error",
    r"^$",
    r"x*",
    "你好",
    r"\x00",
    r"ERROR.*WARN",
]


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("seed", [1, 2])
def test_level_counts_equal_a_per_line_search(pattern, seed):
    chunk = random_log(seed)
    expected = per_line(pattern.encode(), chunk)
    assert LinePattern(re.compile(pattern)).count(chunk) == expected
    assert expected > 0 or pattern in (r"^ERROR",)  # the data exercises the pattern


def test_counts_do_not_depend_on_chunking():
    chunk = random_log(3, 5000)
    counter = LevelCounter(
        {"error": re.compile("ERROR|Exception"), "warning": re.compile("WARN")}, "m"
    )
    whole = counter(chunk)
    lines = chunk.split(b"\n")
    parts = [b"\n".join(lines[i : i + 77]) + b"\n" for i in range(0, len(lines) - 1, 77)]
    summed = sum((counter(p) for p in parts), start=type(whole)())
    assert whole == summed and whole[("m", "error")] > 0


def test_invalid_utf8_and_nul_bytes_are_counted():
    chunk = b"\xff\xfe ERROR \x00\x00\n\x00\x00\x00\nWARN \xc3\x28\nERROR\x00WARN\n"
    counter = LevelCounter({"error": re.compile("ERROR"), "warning": re.compile("WARN")}, "m")
    assert counter(chunk) == {("m", "error"): 2, ("m", "warning"): 2}


# --- database server logs ------------------------------------------------------------

# recorded from the local PostgreSQL 15 (log_line_prefix '%m [%p] %q%u@%d ')
PG_STDERR = b"""\
2026-11-26 07:57:38.499 UTC [2190] LOG:  starting PostgreSQL 15.20 (Debian 15.20-0+deb12u1) on x86_64-pc-linux-gnu
2026-11-26 07:57:38.505 UTC [2190] LOG:  database system is ready to accept connections
2026-11-26 08:02:21.494 UTC [8054] nosuchuser@postgres FATAL:  role "nosuchuser" does not exist
2026-11-26 08:07:41.402 UTC [9130] postgres@postgres ERROR:  column "nosuchcol" does not exist at character 8
2026-11-26 08:07:41.402 UTC [9130] postgres@postgres STATEMENT:  select nosuchcol
2026-11-26 08:08:00.001 UTC [9131] postgres@postgres LOG:  statement: select 'ERROR:  not a real one'
2026-11-26 08:09:00.000 UTC [2190] PANIC:  could not write to file "pg_wal/xlogtemp.2190": No space left on device
"""  # noqa: E501 (log lines kept whole, as servers write them)

# PostgreSQL csvlog and jsonlog lines (the documented field layouts)
PG_CSV = b"""\
2026-11-26 08:07:41.402 UTC,"postgres","postgres",9130,"127.0.0.1:50000",6565f0fd.23aa,1,"SELECT",2026-11-26 08:07:41 UTC,3/7,0,ERROR,42703,"column ""nosuchcol"" does not exist",,,,,,"select nosuchcol",8,,"psql","client backend",,0
2026-11-26 08:07:42.000 UTC,,,2190,,6565f0fd.1,2,,2026-11-26 07:57:38 UTC,,0,LOG,00000,"checkpoint starting: time",,,,,,,,,"","checkpointer",,0
"""  # noqa: E501 (log lines kept whole, as servers write them)
PG_JSON = b"""\
{"timestamp":"2026-11-26 08:07:41.402 UTC","user":"postgres","dbname":"postgres","pid":9130,"error_severity":"ERROR","state_code":"42703","message":"column \\"nosuchcol\\" does not exist"}
{"timestamp":"2026-11-26 08:07:42.000 UTC","pid":2190,"error_severity":"FATAL","state_code":"28000","message":"role \\"x\\" does not exist"}
{"timestamp":"2026-11-26 08:07:43.000 UTC","pid":2190,"error_severity":"LOG","message":"ERROR in a message"}
"""  # noqa: E501 (log lines kept whole, as servers write them)

# MariaDB 10.11 error log: the [Note]/[Warning] lines were recorded from the local
# server; the [ERROR] line follows the same layout (MariaDB prints errors that way)
MARIADB = b"""\
2026-11-26  7:58:05 0 [Note] Starting MariaDB 10.11.19-MariaDB-0+deb12u1 source revision 5843d847 as process 3776
2026-11-26  7:58:05 0 [Note] InnoDB: Using io_uring
2026-11-26  8:06:15 13 [Warning] Access denied for user 'root'@'127.0.0.1' (using password: YES)
2026-11-26  8:06:51 15 [Warning] Aborted connection 15 to db: 'unconnected' user: 'root' host: '127.0.0.1' (Got an error reading communication packets)
2026-11-26  8:10:00 0 [ERROR] mariadbd: Can't create/write to file '/var/lib/mysql/aria_log_control' (Errcode: 13 "Permission denied")
2026-11-26  8:10:01 0 [Note] a note mentioning [ERROR] later on the line
"""  # noqa: E501 (log lines kept whole, as servers write them)
# MySQL 8 layout
MYSQL8 = b"""\
2026-11-26T08:10:00.123456Z 0 [ERROR] [MY-010119] [Server] Aborting
2026-11-26T08:10:01.000000Z 8 [Warning] [MY-010055] [Server] IP address '10.0.0.9' could not be resolved
2026-11-26T08:10:02.000000Z 0 [System] [MY-010931] [Server] /usr/sbin/mysqld: ready for connections.
"""  # noqa: E501 (log lines kept whole, as servers write them)


@pytest.mark.parametrize(
    "fmt,chunk,expected",
    [
        ("stderr", PG_STDERR, {"error": 1, "fatal": 1, "panic": 1}),
        ("csvlog", PG_CSV, {"error": 1}),
        ("jsonlog", PG_JSON, {"error": 1, "fatal": 1}),
        ("mysql", MARIADB, {"error": 1, "warning": 2}),
        ("mysql", MYSQL8, {"error": 1, "warning": 1}),
    ],
)
def test_server_log_severities(fmt, chunk, expected):
    got = serverlog.counter_for(fmt)(chunk)
    assert {labels[1]: n for labels, n in got.items()} == expected


def test_server_log_format_guess():
    assert (
        serverlog.log_format("postgresql", "auto", "/var/log/postgresql/postgresql-15-main.log")
        == "stderr"
    )
    assert serverlog.log_format("postgresql", "auto", "/pg/log/postgresql-*.csv") == "csvlog"
    assert serverlog.log_format("postgresql", "auto", "/pg/log/postgresql.json") == "jsonlog"
    assert serverlog.log_format("mysql", "auto", "/var/log/mysql/error.log") == "mysql"
    assert serverlog.log_format("postgresql", "csvlog", "/x.log") == "csvlog"


# --- access logs ------------------------------------------------------------------------

ACCESS = b"""\
127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"
10.0.0.1 - - [26/Nov/2026:08:00:00 +0000] "GET /api/orders HTTP/1.1" 200 512 "-" "curl/7.88.1" 0.042
10.0.0.1 - - [26/Nov/2026:08:00:01 +0000] "POST /api/pay HTTP/1.1" 502 157 "-" "agent \\"quoted\\" [x]" 2.300
10.0.0.2 - - [26/Nov/2026:08:00:02 +0000] "GET /missing HTTP/1.1" 404 - "-" "curl/7.88.1" 0.001
10.0.0.3 - - [26/Nov/2026:08:00:03 +0000] "GET /old HTTP/1.1" 301 0
\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 garbage from a TLS client on the plain port
10.0.0.4 - - [26/Nov/2026:08:00:04 +0000] "GET /slow HTTP/1.1" 200 10 "-" "ua" 12.5
"""  # noqa: E501 (log lines kept whole, as servers write them)


def test_access_log_requests_and_durations():
    got = access.AccessCounter()(ACCESS)
    assert got[(access.REQUESTS, "2xx")] == 3
    assert got[(access.REQUESTS, "3xx")] == 1
    assert got[(access.REQUESTS, "4xx")] == 1
    assert got[(access.REQUESTS, "5xx")] == 1
    assert got[(access.UNPARSED,)] == 1
    assert got[(access.DURATION, "count", "")] == 4
    assert got[(access.DURATION, "sum", "")] == pytest.approx(0.042 + 2.3 + 0.001 + 12.5)
    bucket = lambda le: got[(access.DURATION, "bucket", le)]  # noqa: E731
    assert bucket("0.005") == 1 and bucket("0.05") == 2 and bucket("2.0") == 2
    assert (
        bucket("2.5") == 3 and bucket("10.0") == 3 and bucket("30.0") == 4 and bucket("+Inf") == 4
    )
