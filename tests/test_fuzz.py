"""Fuzzed inputs (hypothesis): every reader of outside input gives a correct
result or one clear error, never another exception.

Targets: the config loader, the rotation-safe log follower, the access-log
parser, the exchange run store, and the report's Prometheus API client
(against a real HTTP server on loopback answering garbage).  CI runs a few
hundred examples per target; ``bench/fuzz_bench.py`` sets
``AFTERCARE_FUZZ_EXAMPLES`` to run ten thousand or more and prints how many
cases each target saw (``CASES``).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from exporters.config import Config, ConfigError, load_config
from exporters.exchange.state import RunStore, StateError
from exporters.logs.access import DURATION, REQUESTS, UNPARSED, AccessCounter
from exporters.logs.counting import LevelCounter
from exporters.logs.tail import Follower
from reportgen.prom import PromClient, PromError

EXAMPLES = int(os.environ.get("AFTERCARE_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=EXAMPLES <= 500,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
# each case is two HTTP round trips on loopback: half the examples in CI
FUZZ_HTTP = settings(FUZZ, max_examples=EXAMPLES if EXAMPLES > 500 else EXAMPLES // 2)
CASES: Counter = Counter()  # generated cases per fuzz target, for the bench's report
FIXTURES = Path(__file__).parent / "fixtures" / "config"


def one_line(text: str) -> bool:
    return "\n" not in text.strip() and "Traceback" not in text


# -- the config loader --------------------------------------------------------------------------

CONFIG_WORDS = [
    "defaults",
    "systems",
    "name",
    "timeout",
    "timezone",
    "state_dir",
    "databases",
    "type",
    "dsn",
    "password_file",
    "password_env",
    "services",
    "http",
    "url",
    "expect_status",
    "tcp",
    "address",
    "process",
    "pattern",
    "logs",
    "source",
    "path",
    "levels",
    "format",
    "integrations",
    "redis",
    "amqp",
    "mqtt",
    "dns",
    "postgresql",
    "mysql",
    "exchange",
    "schedule",
    "max_duration",
    "outbox",
    "query",
    "sql",
    "database",
    "backups",
    "min_size",
    "verify",
    "pgbackrest",
    "stanza",
    "sla",
    "availability",
    "response_time",
    "top_tables",
    "slow_query",
    "data_path",
    "log",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.sampled_from(
        [
            "5s",
            "0s",
            "-1s",
            "1h30m",
            "10MiB",
            "-3KB",
            "0 2 * * *",
            "* * *",
            "60 * * * *",
            "postgresql://u:pw@h:5432/db",
            "mysql://h/",
            "http://",
            "https://x/y",
            "h:1",
            "h:70000",
            "[",
            "{{ x }}",
            "Asia/Shanghai",
            "Mars/Base",
            "ERROR|(",
            "",
            " ",
            "postgresql",
            "mysql",
            "pg_restore",
            "combined",
            "\x00",
            "é",
            "😀",
        ]
    ),
    st.text(max_size=30),
)
YAML_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(CONFIG_WORDS), st.text(max_size=8)), inner, max_size=5
        ),
    ),
    max_leaves=25,
)


def _paths(node, prefix=()):
    """Every key path in a YAML document (to pick one to mutate)."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, prefix + (i,))


def _mutate(doc, path, action, value):
    if not path:
        return value
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "replace":
        parent[last] = value
    elif isinstance(parent, dict):
        parent[f"{last}_x" if action == "rename" else last] = value
    return doc


def _check_load(workdir: Path, text: bytes) -> None:
    path = workdir / "aftercare.yml"
    path.write_bytes(text)
    try:
        config = load_config(str(path))
    except ConfigError as err:
        message = str(err)
        assert message and one_line(message), message
        assert err.file == str(path)
    else:
        assert isinstance(config, Config)
        assert config.systems


@pytest.fixture(scope="module")
def config_dir():
    workdir = Path(tempfile.mkdtemp(prefix="aftercare-fuzz-config-"))
    shutil.copy(FIXTURES / "billing-pg.pass", workdir / "billing-pg.pass")
    yield workdir
    shutil.rmtree(workdir, ignore_errors=True)


VALID = yaml.safe_load((FIXTURES / "valid-full.yml").read_text())
VALID_PATHS = list(_paths(VALID))


@FUZZ
@given(
    index=st.integers(0, len(VALID_PATHS) - 1),
    action=st.sampled_from(["replace", "delete", "rename", "add"]),
    value=YAML_VALUES,
)
def test_config_loader_mutated_valid_config(config_dir, index, action, value):
    CASES["config: mutated valid file"] += 1
    import copy

    doc = _mutate(copy.deepcopy(VALID), VALID_PATHS[index], action, value)
    _check_load(config_dir, yaml.safe_dump(doc, allow_unicode=True).encode())


@FUZZ
@given(doc=YAML_VALUES)
@example(doc={"\n": None})  # found by the bench run: a key with a newline
@example(doc={"systems": [{"name": "a", " services\r": 1}]})
def test_config_loader_random_structures(config_dir, doc):
    CASES["config: random YAML structure"] += 1
    _check_load(config_dir, yaml.safe_dump(doc, allow_unicode=True).encode())


@FUZZ
@given(raw=st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode)))
def test_config_loader_random_bytes(config_dir, raw):
    CASES["config: random bytes"] += 1
    _check_load(config_dir, raw)


# -- the rotation-safe log follower -------------------------------------------------------------

LINE_BYTES = st.one_of(
    st.binary(max_size=80),
    st.sampled_from(
        [
            b"ERROR disk full\n",
            b"WARN slow\n",
            b"\x00\x00ERROR\x00\n",
            b"\xff\xfe\xc3(\n",
            b"INFO ok\r\n",
            b"\n",
            b"ERROR",
        ]
    ),
    st.integers(1, 3).map(lambda n: b"x" * (n * 700)),
)  # over-long (max_line is 1 KiB here)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.lists(LINE_BYTES, max_size=6).map(b"".join)),
        st.sampled_from(
            [("poll", b""), ("truncate", b""), ("rotate", b""), ("delete", b""), ("replace", b"")]
        ),
    ),
    max_size=14,
)


@FUZZ
@given(ops=OPS)
def test_log_follower_survives_anything_and_never_double_counts(ops):
    CASES["logs: follower operations"] += 1
    with tempfile.TemporaryDirectory(prefix="aftercare-fuzz-logs-") as tmp:
        log = Path(tmp, "app.log")
        log.write_bytes(b"")
        follower = Follower(
            str(Path(tmp, "*.log")),
            str(Path(tmp, "state", "app.json")),
            max_line=1024,
            chunk_bytes=4096,
        )
        counter = LevelCounter({"error": "ERROR"}, "aftercare_log_lines_total")
        follower.poll(counter)
        # an over-long line is counted once, by its head, before its newline arrives:
        # at most one such head per file the log has been (each rotation starts another)
        written, rotated_only, last, files = 0, True, 0, 1
        try:
            for op, data in ops:
                if op == "append":
                    with open(log, "ab") as fh:
                        fh.write(data)
                    written += data.count(b"\n")
                elif op == "poll":
                    result = follower.poll(counter)
                    assert result.state_saved, result.problems
                    lines = follower.state["lines"]
                    assert last <= lines <= written + files, (last, lines, written, files)
                    last = lines
                else:
                    rotated_only = False
                    files += 1
                    if not log.exists():
                        log.write_bytes(b"")
                    if op == "truncate":
                        os.truncate(log, 0)
                    elif op == "rotate":
                        os.replace(log, Path(tmp, "app.log.1"))
                        log.write_bytes(b"")
                    elif op == "delete":
                        log.unlink(missing_ok=True)
                    elif op == "replace":
                        Path(tmp, "new").write_bytes(b"")
                        os.replace(Path(tmp, "new"), log)
            follower.poll(counter)
            lines = follower.state["lines"]
            assert lines <= written + files
            whole = log.read_bytes() if log.exists() else b""
            if rotated_only and whole.endswith(b"\n") or not whole:
                if rotated_only:
                    assert lines == written, (lines, written)
            errors = follower.totals.get(("aftercare_log_lines_total", "error"), 0)
            assert errors <= lines
        finally:
            follower.close()


# -- the access-log parser ----------------------------------------------------------------------

ACCESS_LINE = st.builds(
    lambda status, size, seconds, agent: (
        (
            f'10.0.0.1 - - [26/Nov/2026:08:00:00 +0800] "GET /x HTTP/1.1" {status} {size} '
            f'"-" "{agent}"' + (f" {seconds:.3f}" if seconds is not None else "")
        ).encode()
        + b"\n"
    ),
    st.integers(100, 599),
    st.one_of(st.integers(0, 10**9).map(str), st.just("-")),
    st.one_of(st.none(), st.floats(0, 100)),
    st.text(alphabet="abc /;()", max_size=12),
)


@FUZZ
@given(lines=st.lists(st.one_of(ACCESS_LINE, st.binary(max_size=120)), max_size=20))
def test_access_parser_counts_every_line_once(lines):
    CASES["access log: chunks"] += 1
    chunk = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines)
    counts = AccessCounter()(chunk)
    requests = sum(v for k, v in counts.items() if k[0] == REQUESTS)
    assert requests + counts.get((UNPARSED,), 0) == chunk.count(b"\n")
    count = counts.get((DURATION, "count", ""), 0)
    assert count <= requests
    assert counts.get((DURATION, "bucket", "+Inf"), 0) == count
    assert math.isfinite(counts.get((DURATION, "sum", ""), 0.0))
    well_formed = [
        line for line in lines if line.endswith(b"\n") and line.startswith(b"10.0.0.1 - - [")
    ]
    assert requests >= len(well_formed)


# -- the exchange run store ---------------------------------------------------------------------

GOOD_SUMMARY = json.dumps(
    {
        "version": 1,
        "runs": {"success": 3, "failure": 1},
        "concurrent_runs": 0,
        "interrupted_runs": 0,
        "records": 10,
        "last_run": {"start": 1.0, "end": 2.0, "exit_code": 0, "records": 5},
        "last_success": {"start": 1.0, "end": 2.0, "exit_code": 0},
        "history": [],
    }
).encode()
JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
STATE_BYTES = st.one_of(
    st.integers(0, len(GOOD_SUMMARY)).map(lambda n: GOOD_SUMMARY[:n]),  # truncated
    st.binary(max_size=200),  # garbage
    JSONISH.map(lambda v: json.dumps(v).encode()),  # wrong shape
    st.fixed_dictionaries(
        {
            "version": st.just(1),
            "runs": JSONISH,
            "records": JSONISH,
            "last_run": JSONISH,
            "history": JSONISH,
        }
    ).map(lambda v: json.dumps(v).encode()),
)


@FUZZ
@given(summary=STATE_BYTES, marker=st.one_of(st.none(), STATE_BYTES))
def test_run_store_reads_garbage_as_a_clear_error(summary, marker):
    CASES["exchange: run store files"] += 1
    with tempfile.TemporaryDirectory(prefix="aftercare-fuzz-state-") as tmp:
        store = RunStore(tmp, "billing", "tax-upload")
        store.running_dir.mkdir(parents=True)
        store.summary_path.write_bytes(summary)
        if marker is not None:
            (store.running_dir / "123.json").write_bytes(marker)
        try:
            snapshot = store.read()
        except StateError as err:
            assert one_line(str(err)) and "summary.json" in str(err)
        else:
            s = snapshot.summary
            assert min(s.successes, s.failures, s.records) >= 0
            assert len(snapshot.running) + len(snapshot.lost) == (marker is not None)
        # aftercare-job starting a run over the same store never fails on it
        warnings = []
        path, _ = store.begin(os.getpid(), 1.0, warnings.append)
        assert path.exists()
        assert store.read().summary is not None


# -- the report's Prometheus API client ---------------------------------------------------------


class _Canned(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 - http.server API
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, ctype, body = self.server.answer
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def canned_prometheus():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Canned)
    server.daemon_threads = True
    server.answer = (200, "application/json", b"{}")
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


VALUE = st.one_of(
    st.sampled_from(["NaN", "+Inf", "-Inf", "1e308", "0", "-1", "abc", ""]),
    st.floats().map(repr),
    st.integers(),
    st.none(),
)
SAMPLE = st.fixed_dictionaries(
    {
        "metric": st.one_of(
            st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3), JSONISH
        )
    },
    optional={
        "value": st.one_of(st.tuples(st.floats(0, 2e9), VALUE).map(list), JSONISH),
        "values": st.one_of(
            st.lists(st.tuples(st.floats(0, 2e9), VALUE).map(list), max_size=5), JSONISH
        ),
    },
)
VECTOR = (
    b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]}]}}'
)


def _not_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return True
    return False


NOT_AN_API_BODY = st.one_of(
    st.binary(max_size=200).filter(_not_json),
    st.just(b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
    st.integers(0, len(VECTOR) - 1).map(lambda n: VECTOR[:n]),  # cut short
    st.fixed_dictionaries(
        {
            "status": st.just("error"),
            "errorType": st.text(max_size=10),
            "error": st.text(max_size=30),
        }
    ).map(lambda v: json.dumps(v).encode()),
)
WRONG_SHAPE = st.one_of(
    st.fixed_dictionaries(
        {
            "status": st.sampled_from(["success", "error", None]),
            "data": st.one_of(
                st.fixed_dictionaries(
                    {
                        "resultType": st.sampled_from(["vector", "matrix", "scalar"]),
                        "result": st.one_of(st.lists(SAMPLE, max_size=4), JSONISH),
                    }
                ),
                JSONISH,
            ),
        }
    ).map(lambda v: json.dumps(v).encode()),
    JSONISH.map(lambda v: json.dumps(v).encode()),
)


def _result_or_prom_error(server, status, ctype, body) -> None:
    server.answer = (status, ctype, body)
    client = PromClient(f"http://127.0.0.1:{server.server_address[1]}", retries=0, timeout=5)
    for call in (
        lambda: client.instant("up", 1000.0),
        lambda: client.range("up", 0.0, 600.0, 60.0),
    ):
        try:
            result = call()
        except PromError as err:  # the server's own error text is quoted as it came
            assert str(err).strip() and "Traceback" not in str(err), str(err)
        else:
            assert isinstance(result, (list, dict))


@FUZZ_HTTP
@given(
    status=st.sampled_from([200, 400, 404, 422, 500, 503]),
    ctype=st.sampled_from(["application/json", "text/html"]),
    body=NOT_AN_API_BODY,
)
def test_prometheus_client_error_pages_and_cut_answers_are_prom_errors(
    canned_prometheus, status, ctype, body
):
    CASES["report: Prometheus error pages, cut answers"] += 1
    _result_or_prom_error(canned_prometheus, status, ctype, body)


@FUZZ_HTTP
@given(body=WRONG_SHAPE)
def test_prometheus_client_success_answers_of_the_wrong_shape_are_prom_errors(
    canned_prometheus, body
):
    CASES["report: Prometheus answers of the wrong shape"] += 1
    _result_or_prom_error(canned_prometheus, 200, "application/json", body)


def test_prometheus_client_reads_nan_and_inf_as_floats(canned_prometheus):
    canned_prometheus.answer = (
        200,
        "application/json",
        json.dumps(
            {
                "status": "success",
                "data": {
                    "resultType": "matrix",
                    "result": [
                        {
                            "metric": {"a": "1"},
                            "values": [[60, "NaN"], [120, "+Inf"], [180, "-Inf"], [240, "2.5"]],
                        }
                    ],
                },
            }
        ).encode(),
    )
    client = PromClient(f"http://127.0.0.1:{canned_prometheus.server_address[1]}", retries=0)
    series = client.range("x", 0.0, 240.0, 60.0)
    (points,) = series.values()
    values = [v for _, v in points]
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf, 2.5]


def test_log_follower_counts_a_line_of_over_a_mebibyte_once(tmp_path):
    """Default limits: a 3 MiB line without newline, then its end, NULs and invalid UTF-8."""
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    follower = Follower(str(tmp_path / "*.log"), str(tmp_path / "state.json"))
    counter = LevelCounter({"error": "ERROR"}, "aftercare_log_lines_total")
    follower.poll(counter)
    with open(log, "ab") as fh:
        fh.write(b"ERROR " + b"\x00\xff" * (3 << 19))  # 3 MiB, no newline yet
    follower.poll(counter)
    assert follower.state["lines"] == 1  # counted once, by its head
    with open(log, "ab") as fh:
        fh.write(b"\xc3( tail of the long line\nERROR next\n")
    follower.poll(counter)
    follower.poll(counter)
    assert follower.state["lines"] == 2
    assert follower.totals[("aftercare_log_lines_total", "error")] == 2
    follower.close()
