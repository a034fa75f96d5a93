"""The log areas through the real runtime and exporter: sources, DB server logs, job logs."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import psycopg2
import pymysql
import pytest
import yaml

from devstack.exporter import ExporterProcess
from exporters.config import validate
from exporters.logs.areas import DatabaseLogArea, ExchangeLogArea, LogSourcesArea
from exporters.runtime import Scraper

PG_LOG = Path("/var/log/postgresql/postgresql-15-main.log")
MARIADB_LOG = Path("/var/log/mysql/error.log")


def config(tmp_path: Path, **system) -> object:
    raw = {
        "defaults": {"timeout": "5s", "state_dir": str(tmp_path / "state")},
        "systems": [{"name": "billing", **system}],
    }
    return validate(raw, "test.yml")


def scrape(area) -> dict:
    """{(metric name, frozenset of labels): value} of one scrape."""
    out = {}
    for family in Scraper([area]).scrape(5.0):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: dict, name: str, **labels) -> float:
    return samples[(name, frozenset(labels.items()))]


def test_log_source_levels_survive_a_restart(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_text("ERROR before start\n")
    cfg = config(
        tmp_path,
        logs=[
            {
                "source": "app",
                "path": str(logs / "*.log"),
                "levels": {"error": "ERROR|Exception", "warning": "WARN"},
            }
        ],
    )
    area = LogSourcesArea(cfg)
    s = scrape(area)
    assert value(s, "aftercare_log_lines_total", system="billing", source="app", level="error") == 0
    assert value(s, "aftercare_log_files", system="billing", source="app") == 1
    with open(logs / "app.log", "a") as fh:
        fh.write("ERROR one\nWARN two\njava.lang.Exception three\n")
    s = scrape(area)
    assert value(s, "aftercare_log_lines_total", system="billing", source="app", level="error") == 2
    assert value(s, "aftercare_log_read_lines_total", system="billing", source="app") == 3
    assert value(
        s, "aftercare_log_last_line_timestamp_seconds", system="billing", source="app"
    ) == pytest.approx(os.stat(logs / "app.log").st_mtime)
    assert (
        value(s, "aftercare_source_failure", system="billing", source="app", reason="missing") == 0
    )
    for t in area.targets:
        t.close()
    restarted = LogSourcesArea(cfg)  # same state dir: nothing counted twice
    s = scrape(restarted)
    assert value(s, "aftercare_log_lines_total", system="billing", source="app", level="error") == 2
    assert (
        value(s, "aftercare_log_lines_total", system="billing", source="app", level="warning") == 1
    )


def test_missing_log_source_is_a_failure_reason_not_a_crash(tmp_path):
    cfg = config(tmp_path, logs=[{"source": "gone", "path": str(tmp_path / "nowhere" / "*.log")}])
    s = scrape(LogSourcesArea(cfg))
    assert (
        value(s, "aftercare_source_failure", system="billing", source="gone", reason="missing") == 1
    )
    assert value(s, "aftercare_log_files", system="billing", source="gone") == 0
    assert (
        value(
            s,
            "aftercare_scrape_collector_success",
            system="billing",
            target="gone",
            collector="log",
        )
        == 1
    )


def test_access_log_source(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    access = logs / "access.log"
    access.write_text("")
    cfg = config(tmp_path, logs=[{"source": "web", "path": str(access), "format": "combined"}])
    area = LogSourcesArea(cfg)
    scrape(area)
    with open(access, "a") as fh:
        for status, seconds in ((200, "0.010"), (200, "0.300"), (503, "2.100")):
            fh.write(
                f'10.0.0.1 - - [26/Nov/2026:08:00:00 +0000] "GET / HTTP/1.1" {status} 5 "-" "ua" '
                f"{seconds}\n"
            )
    s = scrape(area)
    labels = {"system": "billing", "source": "web"}
    assert value(s, "aftercare_http_requests_total", code_class="2xx", **labels) == 2
    assert value(s, "aftercare_http_requests_total", code_class="5xx", **labels) == 1
    assert value(s, "aftercare_http_request_duration_seconds_bucket", le="0.5", **labels) == 2
    assert value(s, "aftercare_http_request_duration_seconds_bucket", le="2.0", **labels) == 2
    assert value(s, "aftercare_http_request_duration_seconds_count", **labels) == 3


def test_exchange_job_log(tmp_path):
    job_log = tmp_path / "tax-upload.log"
    job_log.write_text("")
    cfg = config(tmp_path, exchange=[{"name": "tax-upload", "log": {"path": str(job_log)}}])
    area = ExchangeLogArea(cfg)
    scrape(area)
    job_log.write_text("INFO start\nERROR upload refused: HTTP 500\nWARN retrying\nERROR gave up\n")
    s = scrape(area)
    assert (
        value(
            s,
            "aftercare_exchange_log_lines_total",
            system="billing",
            exchange="tax-upload",
            level="error",
        )
        == 2
    )


def wait_for(predicate, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_postgresql_server_log_counts_real_errors(tmp_path):
    """A failing query against the local server shows up as an ERROR in its log."""
    cfg = config(
        tmp_path,
        databases=[
            {
                "name": "pg",
                "type": "postgresql",
                "dsn": "postgresql://postgres@127.0.0.1:5432/postgres",
                "log": {"path": str(PG_LOG)},
            }
        ],
    )
    area = DatabaseLogArea(cfg)
    labels = {"system": "billing", "database": "pg"}
    s = scrape(area)
    if not os.access(PG_LOG, os.R_OK):  # then the problem must be visible, not fatal
        assert (
            value(s, "aftercare_database_log_unreadable_files", **labels)
            + (1 - value(s, "aftercare_database_log_files", **labels))
            >= 1
        )
        return
    before = value(s, "aftercare_database_log_messages_total", severity="error", **labels)
    conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    try:
        with conn.cursor() as cur:
            for _ in range(3):
                with pytest.raises(psycopg2.Error):
                    cur.execute("SELECT no_such_column_aftercare_test")
                conn.rollback()
    finally:
        conn.close()
    assert wait_for(
        lambda: (
            value(scrape(area), "aftercare_database_log_messages_total", severity="error", **labels)
            >= before + 3
        )
    )


def test_mariadb_error_log_counts_real_warnings(tmp_path):
    """A refused login is logged by the local MariaDB as a [Warning] (log_warnings >= 2)."""
    cfg = config(
        tmp_path,
        databases=[
            {
                "name": "maria",
                "type": "mysql",
                "dsn": "mysql://root@127.0.0.1:3306/",
                "log": {"path": str(MARIADB_LOG)},
            }
        ],
    )
    area = DatabaseLogArea(cfg)
    labels = {"system": "billing", "database": "maria"}
    s = scrape(area)
    assert value(s, "aftercare_database_log_messages_total", severity="error", **labels) == 0
    if not os.access(MARIADB_LOG, os.R_OK):
        assert value(s, "aftercare_database_log_files", **labels) == 0
        return
    with pytest.raises(pymysql.err.OperationalError):
        pymysql.connect(
            host="127.0.0.1",
            port=3306,
            user="aftercare_no_such_user",
            password="wrong",
            connect_timeout=5,
        )
    assert wait_for(
        lambda: (
            value(
                scrape(area), "aftercare_database_log_messages_total", severity="warning", **labels
            )
            >= 1
        )
    )


def test_services_exporter_serves_clean_log_metrics(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_text("")
    (logs / "access.log").write_text("")
    cfg = {
        "defaults": {"timeout": "3s", "state_dir": str(tmp_path / "state")},
        "systems": [
            {
                "name": "billing",
                "logs": [
                    {"source": "app", "path": str(logs / "app.log")},
                    {"source": "web", "path": str(logs / "access.log"), "format": "combined"},
                    {"source": "absent", "path": str(tmp_path / "none" / "*.log")},
                ],
            }
        ],
    }
    file = tmp_path / "aftercare.yml"
    file.write_text(yaml.safe_dump(cfg))
    with ExporterProcess("services", file) as exporter:
        exporter.metrics_text()
        with open(logs / "app.log", "a") as fh:
            fh.write("ERROR boom\n")
        with open(logs / "access.log", "a") as fh:
            fh.write(
                '1.2.3.4 - - [26/Nov/2026:08:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua" 0.004\n'
            )
        text = exporter.metrics_text()
    assert 'aftercare_log_lines_total{level="error",source="app",system="billing"} 1.0' in text
    assert (
        'aftercare_http_requests_total{code_class="2xx",source="web",system="billing"} 1.0' in text
    )
    assert 'aftercare_source_failure{reason="missing",source="absent",system="billing"} 1.0' in text
    check = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_line_written_before_the_first_scrape_counts(tmp_path):
    """Positions are fixed when the exporter starts, not at its first scrape: lines written in
    between count, old history does not; a file that appears later is read from its start; a
    source a reload adds is anchored when it is added."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_text("ERROR old history\nERROR old history\n")
    cfg = {
        "defaults": {"timeout": "3s", "state_dir": str(tmp_path / "state")},
        "systems": [{"name": "billing", "logs": [{"source": "app", "path": str(logs / "*.log")}]}],
    }
    file = tmp_path / "aftercare.yml"
    file.write_text(yaml.safe_dump(cfg))
    app = 'aftercare_log_lines_total{level="error",source="app",system="billing"}'
    later = 'aftercare_log_lines_total{level="error",source="later",system="billing"}'
    with ExporterProcess("services", file) as exporter:
        with open(logs / "app.log", "a") as fh:  # after start, before any scrape
            fh.write("ERROR one\nINFO two\n")
        assert f"{app} 1.0" in exporter.metrics_text()
        (logs / "rotated-in.log").write_text("ERROR new file 1\nERROR new file 2\n")
        assert f"{app} 3.0" in exporter.metrics_text()
        # a reload that adds a source fixes its positions then, before its first scrape
        (logs / "jobs.txt").write_text("ERROR before the reload\n")
        cfg["systems"][0]["logs"].append({"source": "later", "path": str(logs / "jobs.txt")})
        file.write_text(yaml.safe_dump(cfg))
        assert exporter.post("/-/reload").status_code == 200
        with open(logs / "jobs.txt", "a") as fh:
            fh.write("ERROR after the reload\n")
        text = exporter.metrics_text()
    assert f"{later} 1.0" in text, text
    assert f"{app} 3.0" in text
