"""The database area on a throwaway primary + streaming standby: WAL archiving,
pg_stat_statements and replication lag that does not grow while idle."""

from __future__ import annotations

import time
from contextlib import closing

import pytest

from devstack.postgres import PG_BIN, ThrowawayPostgres
from tests.test_database_support import Exporter, wait_for


@pytest.fixture(scope="module")
def cluster():
    """(primary, standby): archiving to a folder, pg_stat_statements loaded."""
    primary = ThrowawayPostgres(
        settings={
            "archive_mode": "on",
            "archive_command": "'cp %p archive/%f'",
            "shared_preload_libraries": "pg_stat_statements",
            "wal_level": "replica",
        }
    )
    standby = ThrowawayPostgres()
    try:
        primary.initdb()
        primary._run("mkdir", str(primary.data_dir / "archive"))
        primary.start()
        with closing(primary.connect()) as conn, conn.cursor() as cur:
            cur.execute("CREATE EXTENSION pg_stat_statements")
        result = standby._run(
            str(PG_BIN / "pg_basebackup"),
            "-D",
            str(standby.data_dir),
            "-R",
            "-X",
            "stream",
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            "postgres",
            "-d",
            "application_name=replica1",
        )
        assert result.returncode == 0, result.stderr
        standby._initialized = True
        standby.start()
        yield primary, standby
    finally:
        standby.close()
        primary.close()


def db(name, server) -> dict:
    return {"name": name, "type": "postgresql", "dsn": server.dsn()}


def test_standby_lag_stays_zero_while_idle(tmp_path, cluster):
    primary, standby = cluster
    with closing(primary.connect()) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t AS SELECT 1 AS x")
    with Exporter(tmp_path, [db("primary", primary), db("standby", standby)]) as exp:
        s = wait_for(
            lambda: (
                (s := exp.scrape()).all("aftercare_database_standby_replay_lag_bytes")
                and s.get("aftercare_database_standby_replay_lag_bytes") == 0
                and s
            ),
            10,
        )
        assert s.get("aftercare_database_replica", database="primary") == 0
        assert s.get("aftercare_database_replica", database="standby") == 1
        assert s.get("aftercare_database_replication_running", database="standby") == 1
        assert s.get("aftercare_database_standby_replay_lag_bytes", standby="replica1") == 0
        time.sleep(2.5)  # idle: nothing to replay, the last replayed commit gets older
        s = exp.scrape()
        assert s.get("aftercare_database_replication_lag_seconds", database="standby") == 0
        assert s.get("aftercare_database_standby_replay_lag_seconds", standby="replica1") < 1
        with closing(standby.connect()) as conn, conn.cursor() as cur:
            cur.execute("SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())")
            naive = cur.fetchone()[0]
        assert naive > 2  # what postgres_exporter would report: growing while idle
        assert s.success("standby")["replication"] == 1


def test_wal_archiving_counts_and_failures(tmp_path, cluster):
    primary, _ = cluster
    with Exporter(tmp_path, [db("primary", primary)]) as exp:
        s = exp.scrape()
        assert s.get("aftercare_database_wal_archiving_enabled") == 1
        before = s.get("aftercare_database_wal_archived_total")
        with closing(primary.connect()) as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS w (x int)")
            cur.execute("INSERT INTO w VALUES (1)")
            cur.execute("SELECT pg_switch_wal()")
        s = wait_for(
            lambda: (s := exp.scrape()).get("aftercare_database_wal_archived_total") > before and s,
            10,
        )
        assert s.get("aftercare_database_wal_archived_total") == before + 1
        assert 0 <= s.get("aftercare_database_wal_last_archived_age_seconds") < 10
        assert (
            abs(s.get("aftercare_database_wal_last_archived_timestamp_seconds") - time.time()) < 10
        )
        archive = str(primary.data_dir / "archive")
        primary._run("mv", archive, archive + ".off")  # the archive destination is gone
        try:
            with closing(primary.connect()) as conn, conn.cursor() as cur:
                cur.execute("INSERT INTO w VALUES (2)")
                cur.execute("SELECT pg_switch_wal()")
            s = wait_for(
                lambda: (
                    (s := exp.scrape()).get("aftercare_database_wal_archive_failures_total") >= 1
                    and s
                ),
                10,
            )
            assert s.get("aftercare_database_wal_archive_failures_total") >= 1
            assert s.get("aftercare_database_wal_archived_total") == before + 1
            assert s.all("aftercare_database_wal_last_archive_failure_timestamp_seconds")
        finally:
            primary._run("mv", archive + ".off", archive)


def test_pg_stat_statements_top_n_by_queryid(tmp_path, cluster):
    primary, _ = cluster
    with closing(primary.connect()) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_stat_statements_reset()")
        for _ in range(5):
            cur.execute("SELECT pg_sleep(0.02)")
        cur.execute("SELECT count(*) FROM generate_series(1, 1000)")
        cur.execute(
            "SELECT queryid::text FROM pg_stat_statements WHERE query = 'SELECT pg_sleep($1)'"
        )
        sleeper = cur.fetchone()[0]
    with Exporter(tmp_path, [{**db("primary", primary), "top_tables": 2}]) as exp:
        s = exp.scrape()
        # a utility statement keeps its text in pg_stat_statements, password included: never shown
        with closing(primary.connect()) as conn, conn.cursor() as cur:
            for _ in range(30):
                cur.execute("ALTER ROLE postgres PASSWORD 'aftercare-not-shown'")
        shown = exp.scrape()
    assert s.get("aftercare_database_statements_available") == 1
    queryids = {lab["queryid"] for lab, _ in s.all("aftercare_database_statement_calls_total")}
    assert len(queryids) == 2 and sleeper in queryids
    assert s.get("aftercare_database_statement_calls_total", queryid=sleeper) == 5
    assert 0.1 <= s.get("aftercare_database_statement_seconds_total", queryid=sleeper) < 1
    assert all(not lab.get("query") for lab, _ in s.all("aftercare_database_statement_calls_total"))
    texts = {
        lab["queryid"]: lab["statement"] for lab, _ in s.all("aftercare_database_statement_info")
    }
    assert texts[sleeper] == "SELECT pg_sleep($1)"
    assert "aftercare-not-shown" not in str(shown.all("aftercare_database_statement_info"))
