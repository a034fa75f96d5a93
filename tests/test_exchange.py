"""The exchange area: run-store evidence, SQL evidence, outbox backlog, deadlines, end to end."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg2
import pytest
import yaml

from devstack.samples import flatten
from exporters.config import validate
from exporters.exchange import ExchangeArea
from exporters.exchange.state import Run, RunStore
from exporters.runtime import Scraper
from exporters.schedule import deadline, next_fire

JOB_CLI = [sys.executable, "-m", "exporters.jobcli"]
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(text: str, tz=SHANGHAI) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def make_config(state_dir, job: dict, tz="Asia/Shanghai", databases=()):
    return validate(
        {
            "defaults": {"state_dir": str(state_dir), "timeout": "3s"},
            "systems": [
                {
                    "name": "billing",
                    "timezone": tz,
                    "databases": list(databases),
                    "exchange": [{"name": "tax-upload", **job}],
                }
            ],
        }
    )


def scrape(config) -> dict:
    """{(metric, extra label values...): value} for the one job, plus collector successes."""
    area = ExchangeArea(config)
    scraper = Scraper([area])
    try:
        families = scraper.scrape(5.0)
    finally:
        scraper.close()
    return flatten(families, "exchange", "billing", "tax-upload")


def record(state_dir, start, end, exit_code, records=None, concurrent=False):
    RunStore(str(state_dir), "billing", "tax-upload").finish(
        None, Run(start, end, exit_code, records, concurrent), warn=print
    )


# --- the deadline ------------------------------------------------------------------------------


def test_deadline_is_read_in_the_systems_time_zone():
    success = at("2026-03-10T03:00:00")  # 03:00 in Shanghai = 19:00 UTC the day before
    due = deadline("0 2 * * *", "Asia/Shanghai", success, 0, allowance=45 * 60)
    assert due == at("2026-03-11T02:45:00")
    assert due == at("2026-03-10T18:45:00", ZoneInfo("UTC"))
    # the same instant with the schedule read in UTC: 19:00 UTC, next 02:00 UTC is 7 hours on
    assert deadline("0 2 * * *", "UTC", success, 0, 45 * 60) == at(
        "2026-03-10T02:45:00", ZoneInfo("UTC")
    )


def test_deadline_follows_daylight_saving_time():
    # Berlin moves to summer time on 2026-03-29: 03:30 local that day is 01:30 UTC, not 02:30
    before = at("2026-03-28T04:00:00", ZoneInfo("Europe/Berlin"))
    assert next_fire("30 3 * * *", before, "Europe/Berlin") == at(
        "2026-03-29T01:30:00", ZoneInfo("UTC")
    )


def test_deadline_without_a_success_counts_from_when_watching_began():
    began = at("2026-03-10T12:00:00")
    assert deadline("0 2 * * *", "Asia/Shanghai", None, began, 0) == at("2026-03-11T02:00:00")


# --- run-store evidence --------------------------------------------------------------------------


def test_success_then_failure(tmp_state_dir):
    record(tmp_state_dir, at("2026-03-10T02:00:00"), at("2026-03-10T02:10:00"), 0, records=120)
    record(tmp_state_dir, at("2026-03-11T02:00:00"), at("2026-03-11T02:01:30"), 2, records=7)
    m = scrape(
        make_config(tmp_state_dir, {"schedule": "0 2 * * *", "max_duration": "30m", "grace": "15m"})
    )
    assert m[("aftercare_exchange_runs_total", "success")] == 1
    assert m[("aftercare_exchange_runs_total", "failure")] == 1
    assert m[("aftercare_exchange_last_success_timestamp_seconds",)] == at("2026-03-10T02:10:00")
    assert m[("aftercare_exchange_last_run_timestamp_seconds",)] == at("2026-03-11T02:01:30")
    assert m[("aftercare_exchange_last_run_success",)] == 0
    assert m[("aftercare_exchange_last_duration_seconds",)] == 90
    assert m[("aftercare_exchange_last_records",)] == 7
    assert m[("aftercare_exchange_records_total",)] == 127
    assert m[("aftercare_exchange_running",)] == 0
    assert m[("aftercare_exchange_concurrent_runs_total",)] == 0
    # the failed run on the 11th does not move the deadline: still due by 02:45 on the 11th
    assert m[("aftercare_exchange_deadline_timestamp_seconds",)] == at("2026-03-11T02:45:00")
    assert m[("aftercare_exchange_deadline_timestamp_seconds",)] < time.time()  # overdue
    assert m[("collector", "state")] == 1


def test_fresh_success_is_not_overdue(tmp_state_dir):
    now = time.time()
    record(tmp_state_dir, now - 60, now - 5, 0)
    m = scrape(make_config(tmp_state_dir, {"schedule": "*/10 * * * *", "grace": "0s"}))
    due = m[("aftercare_exchange_deadline_timestamp_seconds",)]
    assert now < due <= now + 600
    assert due == next_fire("*/10 * * * *", now - 5, "Asia/Shanghai")
    assert m[("aftercare_exchange_last_run_success",)] == 1


def test_never_ran_deadline_from_first_seen_which_persists(tmp_state_dir):
    config = make_config(tmp_state_dir, {"schedule": "0 2 * * *", "grace": "15m"})
    before = time.time()
    m = scrape(config)
    first_seen = tmp_state_dir / "exchange/billing/tax-upload/first-seen"
    began = float(first_seen.read_text())
    assert before - 1 <= began <= time.time()
    assert (
        m[("aftercare_exchange_deadline_timestamp_seconds",)]
        == next_fire("0 2 * * *", began, "Asia/Shanghai") + 900
    )
    assert ("aftercare_exchange_last_success_timestamp_seconds",) not in m
    assert m[("aftercare_exchange_runs_total", "success")] == 0
    # a restarted exporter keeps counting from the first look, not from its own start
    first_seen.write_text(f"{at('2026-01-01T12:00:00')}\n")
    m = scrape(config)
    assert m[("aftercare_exchange_deadline_timestamp_seconds",)] == at("2026-01-02T02:15:00")


def test_running_and_lost_runs(tmp_state_dir):
    store = RunStore(str(tmp_state_dir), "billing", "tax-upload")
    started = time.time() - 30
    store.begin(os.getpid(), started, warn=print)  # this test process: alive
    dead = subprocess.Popen(["true"])
    dead.wait()
    store.begin(dead.pid, started - 100, warn=print)  # a process that is gone
    m = scrape(make_config(tmp_state_dir, {"schedule": "0 2 * * *"}))
    assert m[("aftercare_exchange_running",)] == 1
    assert m[("aftercare_exchange_running_since_timestamp_seconds",)] == pytest.approx(started)
    assert m[("aftercare_exchange_runs_total", "failure")] == 1  # the lost run
    assert ("aftercare_exchange_last_run_timestamp_seconds",) not in m


def test_running_job_seen_through_aftercare_job(tmp_path, tmp_state_dir):
    config = make_config(tmp_state_dir, {"schedule": "0 2 * * *"})
    cfg = tmp_path / "aftercare.yml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "defaults": {"state_dir": str(tmp_state_dir)},
                "systems": [
                    {
                        "name": "billing",
                        "timezone": "Asia/Shanghai",
                        "exchange": [{"name": "tax-upload", "schedule": "0 2 * * *"}],
                    }
                ],
            }
        )
    )
    flag = tmp_path / "started"
    jobs = [
        subprocess.Popen(
            [
                *JOB_CLI,
                "run",
                "--config.file",
                str(cfg),
                "--job",
                "tax-upload",
                "--",
                "sh",
                "-c",
                f"touch {flag}.{i}; sleep 2",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(2)
    ]
    try:
        until = time.time() + 10
        while not all(Path(f"{flag}.{i}").exists() for i in range(2)):
            assert time.time() < until
            time.sleep(0.02)
        m = scrape(config)
        assert m[("aftercare_exchange_running",)] == 2
    finally:
        for job in jobs:
            job.wait(timeout=20)
    m = scrape(config)
    assert m[("aftercare_exchange_running",)] == 0
    assert m[("aftercare_exchange_runs_total", "success")] == 2
    assert m[("aftercare_exchange_concurrent_runs_total",)] == 1


def test_corrupt_run_store_is_reported_not_crashed(tmp_state_dir, tmp_path, caplog):
    record(tmp_state_dir, 1000, 1010, 0)
    (tmp_state_dir / "exchange/billing/tax-upload/summary.json").write_text("{not json")
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    m = scrape(
        make_config(tmp_state_dir, {"schedule": "0 2 * * *", "outbox": {"path": str(outbox)}})
    )
    assert m[("collector", "state")] == 0
    assert m[("collector", "outbox")] == 1
    assert m[("aftercare_exchange_backlog_files",)] == 0
    # unknown last success: no deadline rather than a made-up one
    assert ("aftercare_exchange_deadline_timestamp_seconds",) not in m
    assert ("aftercare_exchange_runs_total", "success") not in m
    assert any("corrupt run store" in getattr(r, "err", "") for r in caplog.records)


# --- outbox --------------------------------------------------------------------------------------


def test_outbox_backlog_counts_matching_files_and_oldest_age(tmp_state_dir, tmp_path):
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    now = time.time()
    for name, age in (("a.xml", 7200), ("b.xml", 60), ("c.xml", 10), ("notes.txt", 99999)):
        (outbox / name).write_text("<x/>")
        os.utime(outbox / name, (now - age, now - age))
    (outbox / "sub.xml").mkdir()  # a directory is not a waiting file
    m = scrape(make_config(tmp_state_dir, {"outbox": {"path": str(outbox), "pattern": "*.xml"}}))
    assert m[("aftercare_exchange_backlog_files",)] == 3
    assert m[("aftercare_exchange_backlog_oldest_age_seconds",)] == pytest.approx(7200, abs=5)
    assert ("aftercare_exchange_deadline_timestamp_seconds",) not in m  # no schedule, no deadline
    for name in ("a.xml", "b.xml", "c.xml"):
        (outbox / name).unlink()
    m = scrape(make_config(tmp_state_dir, {"outbox": {"path": str(outbox), "pattern": "*.xml"}}))
    assert m[("aftercare_exchange_backlog_files",)] == 0
    assert m[("aftercare_exchange_backlog_oldest_age_seconds",)] == 0


def test_missing_outbox_fails_its_collector_only(tmp_state_dir, tmp_path):
    m = scrape(
        make_config(
            tmp_state_dir, {"schedule": "0 2 * * *", "outbox": {"path": str(tmp_path / "nowhere")}}
        )
    )
    assert m[("collector", "outbox")] == 0
    assert m[("collector", "state")] == 1
    assert ("aftercare_exchange_backlog_files",) not in m
    assert ("aftercare_exchange_deadline_timestamp_seconds",) in m


# --- SQL evidence --------------------------------------------------------------------------------


@pytest.fixture
def runs_db(pg_admin):
    name = f"aftercare_exchange_{uuid.uuid4().hex[:8]}"
    with pg_admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname=name)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE job_runs (finished_at timestamp NOT NULL, status text NOT NULL, "
            "rows_sent int, seconds numeric)"
        )
    try:
        yield name, conn
    finally:
        conn.close()
        with pg_admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


RUNS_SQL = """
SELECT (SELECT max(finished_at) FROM job_runs WHERE status = 'OK') AS last_success,
       finished_at AS last_run, status, rows_sent AS records, seconds AS duration
FROM job_runs ORDER BY finished_at DESC LIMIT 1
"""


def sql_config(state_dir, dbname, sql=RUNS_SQL):
    return make_config(
        state_dir,
        {
            "schedule": "0 2 * * *",
            "max_duration": "30m",
            "grace": "15m",
            "query": {"database": "erp", "sql": sql},
        },
        databases=[
            {
                "name": "erp",
                "type": "postgresql",
                "dsn": f"postgresql://postgres@127.0.0.1:5432/{dbname}",
            }
        ],
    )


def test_sql_evidence_in_the_systems_time_zone(tmp_state_dir, runs_db):
    dbname, conn = runs_db
    with conn.cursor() as cur:  # the job logs local (Shanghai) wall-clock times without a zone
        cur.execute(
            "INSERT INTO job_runs VALUES ('2026-03-10 02:05', 'OK', 300, 65), "
            "('2026-03-11 02:07', 'ERROR', 12, 420.5)"
        )
    m = scrape(sql_config(tmp_state_dir, dbname))
    assert m[("collector", "sql")] == 1
    assert m[("aftercare_exchange_last_success_timestamp_seconds",)] == at("2026-03-10T02:05:00")
    assert m[("aftercare_exchange_last_run_timestamp_seconds",)] == at("2026-03-11T02:07:00")
    assert m[("aftercare_exchange_last_run_success",)] == 0
    assert m[("aftercare_exchange_last_records",)] == 12
    assert m[("aftercare_exchange_last_duration_seconds",)] == 420.5
    assert m[("aftercare_exchange_deadline_timestamp_seconds",)] == at("2026-03-11T02:45:00")
    # the run store has nothing; a newer aftercare-job success there wins the merge
    record(tmp_state_dir, at("2026-03-12T02:00:00"), at("2026-03-12T02:03:00"), 0, records=5)
    m = scrape(sql_config(tmp_state_dir, dbname))
    assert m[("aftercare_exchange_last_success_timestamp_seconds",)] == at("2026-03-12T02:03:00")
    assert m[("aftercare_exchange_last_run_success",)] == 1
    assert m[("aftercare_exchange_deadline_timestamp_seconds",)] == at("2026-03-13T02:45:00")


def test_sql_query_without_last_success_column_fails_its_collector(tmp_state_dir, runs_db, caplog):
    dbname, _ = runs_db
    m = scrape(sql_config(tmp_state_dir, dbname, sql="SELECT 1 AS whatever"))
    assert m[("collector", "sql")] == 0
    assert m[("collector", "state")] == 1
    assert ("aftercare_exchange_deadline_timestamp_seconds",) not in m
    assert any("last_success" in getattr(r, "err", "") for r in caplog.records)


def test_sql_evidence_is_read_only(tmp_state_dir, runs_db):
    dbname, conn = runs_db
    m = scrape(
        sql_config(
            tmp_state_dir,
            dbname,
            sql="INSERT INTO job_runs VALUES (now(), 'OK', 1, 1) "
            "RETURNING finished_at AS last_success",
        )
    )
    assert m[("collector", "sql")] == 0
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM job_runs")
        assert cur.fetchone()[0] == 0


# --- the exporter process ------------------------------------------------------------------------


def test_exporter_end_to_end_after_runs_while_it_was_down(
    tmp_path, tmp_state_dir, exporter_factory
):
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    (outbox / "batch-1.xml").write_text("<batch/>")
    cfg = tmp_path / "aftercare.yml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "defaults": {"state_dir": str(tmp_state_dir), "timeout": "2s"},
                "systems": [
                    {
                        "name": "billing",
                        "timezone": "Asia/Shanghai",
                        "exchange": [
                            {
                                "name": "tax-upload",
                                "schedule": "0 2 * * *",
                                "max_duration": "30m",
                                "outbox": {"path": str(outbox), "pattern": "*.xml"},
                            }
                        ],
                    }
                ],
            }
        )
    )
    # the exporter is not running: the job's runs are recorded all the same
    for script in ("echo AFTERCARE_RECORDS=40", "exit 1", "echo AFTERCARE_RECORDS=2"):
        done = subprocess.run(
            [
                *JOB_CLI,
                "run",
                "--config.file",
                str(cfg),
                "--job",
                "tax-upload",
                "--",
                "sh",
                "-c",
                script,
            ],
            capture_output=True,
            timeout=30,
        )
        assert done.returncode == (1 if script == "exit 1" else 0)
    exporter = exporter_factory("exchange", cfg)
    text = exporter.metrics_text()
    check = subprocess.run(
        ["promtool", "check", "metrics"], input=text.encode(), capture_output=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    samples = {(n, tuple(sorted(labels.items()))): v for n, labels, v in exporter.samples()}
    base = (("exchange", "tax-upload"), ("system", "billing"))
    assert (
        samples[("aftercare_exchange_runs_total", tuple(sorted(base + (("result", "success"),))))]
        == 2
    )
    assert (
        samples[("aftercare_exchange_runs_total", tuple(sorted(base + (("result", "failure"),))))]
        == 1
    )
    assert samples[("aftercare_exchange_records_total", base)] == 42
    assert samples[("aftercare_exchange_backlog_files", base)] == 1
    last = samples[("aftercare_exchange_last_success_timestamp_seconds", base)]
    assert time.time() - 60 < last <= time.time()
    assert (
        samples[("aftercare_exchange_deadline_timestamp_seconds", base)]
        == next_fire("0 2 * * *", last, "Asia/Shanghai") + 1800 + 900
    )


def test_bad_cron_expression_is_a_config_error(tmp_path):
    cfg = tmp_path / "aftercare.yml"
    cfg.write_text(
        "systems:\n  - name: billing\n    exchange:\n"
        "      - {name: tax-upload, schedule: '0 2 * *'}\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "exporters.cli",
            "exchange",
            "--config.file",
            str(cfg),
            "--web.listen-address",
            "127.0.0.1:1",
        ],
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert b"systems[0].exchange[0].schedule" in done.stderr and b"cron" in done.stderr
    assert b"Traceback" not in done.stderr
