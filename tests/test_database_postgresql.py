"""The database area against the real PostgreSQL at 127.0.0.1:5432."""

from __future__ import annotations

import os
import threading
import time

import psycopg2
import pytest

from exporters.database import COLLECTORS, tables, tablespaces
from tests.test_database_support import (
    Exporter,
    closed_port,
    pg_connect,
    pg_database,
    silent_listener,
    unique,
    wait_for,
)

DSN = "postgresql://{user}@127.0.0.1:{port}/{db}"


def pg(name="pg", user="postgres", port=5432, db="postgres", **extra) -> dict:
    return {
        "name": name,
        "type": "postgresql",
        "dsn": DSN.format(user=user, port=port, db=db),
        **extra,
    }


@pytest.fixture
def known_db():
    """A database with one 10 MB table and 24 small tables of distinct sizes."""
    with pg_database() as name:
        conn = pg_connect(name)
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE big (id int PRIMARY KEY, payload text)")
            # 1000 bytes of hex per row: incompressible enough, stored inline
            cur.execute(
                "INSERT INTO big SELECT g, repeat(md5(g::text), 31) || left(md5(g::text), 8) "
                "FROM generate_series(1, 10000) g"
            )
            for i in range(24):
                cur.execute(f"CREATE TABLE small_{i:02d} (x text)")
                cur.execute(
                    f"INSERT INTO small_{i:02d} SELECT repeat('x', 200) "
                    f"FROM generate_series(1, {(i + 1) * 40})"
                )
            cur.execute("CHECKPOINT")
        conn.close()
        yield name


def test_database_size_matches_files_on_disk(tmp_path, known_db):
    with Exporter(tmp_path, [pg(db=known_db)]) as exp:
        s = exp.scrape()
    size = s.get("aftercare_database_size_bytes", datname=known_db)
    # independent figure: the bytes of the database's directory on disk
    conn = pg_connect(known_db)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT current_setting('data_directory'), oid FROM pg_database "
            "WHERE datname = current_database()"
        )
        data_dir, oid = cur.fetchone()
        cur.execute("SELECT pg_total_relation_size('big')")
        big = cur.fetchone()[0]
    conn.close()
    on_disk = sum(
        e.stat().st_size
        for e in os.scandir(os.path.join(data_dir, "base", str(oid)))
        if e.is_file()
    )
    assert abs(size - on_disk) / on_disk < 0.03
    # 10,000 rows of 1,000 bytes: 10 MB of payload, under 13 MB with pages and index
    assert (
        10_000_000
        <= s.get("aftercare_database_table_size_bytes", datname=known_db, table="public.big")
        == big
        < 13_000_000
    )
    assert s.get("aftercare_database_up", database="pg") == 1


def test_top_tables_have_stable_labels_and_other(tmp_path, known_db, monkeypatch):
    monkeypatch.setattr(tables, "REFRESH_SECONDS", 0.0)
    config = [pg(db=known_db, top_tables=3)]
    with Exporter(tmp_path, config) as exp:
        s = exp.scrape()
        series = dict(
            (lab["table"], v)
            for lab, v in s.all("aftercare_database_table_size_bytes", datname=known_db)
        )
        assert set(series) == {"public.big", "public.small_23", "public.small_22", "__other__"}
        conn = pg_connect(known_db)
        with conn.cursor() as cur:
            cur.execute(
                "SELECT sum(pg_total_relation_size(oid)) FROM pg_class "
                "WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
            )
            total = float(cur.fetchone()[0])
            assert sum(series.values()) == total
            assert s.get("aftercare_database_tables", datname=known_db) == 25
            # small_21 grows a little past small_22: not enough to take its place
            cur.execute("INSERT INTO small_21 SELECT repeat('x', 200) FROM generate_series(1, 60)")
            s = exp.scrape()
            labels = {
                lab["table"]
                for lab, _ in s.all("aftercare_database_table_size_bytes", datname=known_db)
            }
            assert labels == set(series)
            # small_00 becomes much larger than every small member: it takes the smallest place
            cur.execute(
                "INSERT INTO small_00 SELECT repeat('x', 200) FROM generate_series(1, 4000)"
            )
            s = exp.scrape()
            labels = {
                lab["table"]
                for lab, _ in s.all("aftercare_database_table_size_bytes", datname=known_db)
            }
            assert labels == {"public.big", "public.small_00", "public.small_23", "__other__"}
            # dropped tables leave, the largest outsider fills the place
            cur.execute("DROP TABLE small_23")
            s = exp.scrape()
            labels = {
                lab["table"]
                for lab, _ in s.all("aftercare_database_table_size_bytes", datname=known_db)
            }
            assert labels == {"public.big", "public.small_00", "public.small_21", "__other__"}
            # a restart keeps the members, though small_22 is now a little larger than small_21
            cur.execute("INSERT INTO small_22 SELECT repeat('x', 200) FROM generate_series(1, 100)")
        conn.close()
    with Exporter(tmp_path, config) as exp:
        s = exp.scrape()
    labels = {
        lab["table"] for lab, _ in s.all("aftercare_database_table_size_bytes", datname=known_db)
    }
    assert labels == {"public.big", "public.small_00", "public.small_21", "__other__"}


def test_other_databases_are_visited_one_per_scrape(tmp_path, known_db, monkeypatch):
    monkeypatch.setattr(tables, "REFRESH_SECONDS", 3600.0)
    with Exporter(tmp_path, [pg(db="postgres", top_tables=2)]) as exp:
        conn = pg_connect()
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_database WHERE datallowconn AND NOT datistemplate")
            databases = cur.fetchone()[0]
        conn.close()
        seen = []
        for _ in range(databases + 1):
            s = exp.scrape()
            seen.append({lab["datname"] for lab, _ in s.all("aftercare_database_tables")})
            assert s.success("pg")["tables"] == 1
        # the home database at once, then one more database after each scrape
        assert [len(x) for x in seen[:3]] == [1, 2, 3]
        assert known_db in seen[-1]
        members = {
            lab["table"]
            for lab, _ in s.all("aftercare_database_table_size_bytes", datname=known_db)
        }
        assert members == {"public.big", "public.small_23", "__other__"}


def test_real_deadlock_counts_exactly_one(tmp_path):
    with pg_database() as name:
        setup = pg_connect(name)
        with setup.cursor() as cur:
            cur.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
            cur.execute("INSERT INTO t VALUES (1, 0), (2, 0)")
        setup.close()
        with Exporter(tmp_path, [pg(db=name)]) as exp:
            before = exp.scrape().get("aftercare_database_deadlocks_total", datname=name)
            a, b = pg_connect(name), pg_connect(name)
            a.autocommit = b.autocommit = False
            for c in (a, b):
                with c.cursor() as cur:
                    cur.execute("SET deadlock_timeout = '100ms'")
            ca, cb = a.cursor(), b.cursor()
            ca.execute("UPDATE t SET v = v + 1 WHERE id = 1")
            cb.execute("UPDATE t SET v = v + 1 WHERE id = 2")
            errors = []

            def cross():
                try:
                    ca.execute("UPDATE t SET v = v + 1 WHERE id = 2")
                except psycopg2.errors.DeadlockDetected as err:
                    errors.append(err)

            thread = threading.Thread(target=cross)
            thread.start()
            time.sleep(0.2)
            try:
                cb.execute("UPDATE t SET v = v + 1 WHERE id = 1")
            except psycopg2.errors.DeadlockDetected as err:
                errors.append(err)
            thread.join(10)
            assert len(errors) == 1
            a.rollback(), b.rollback()
            a.close(), b.close()  # a backend flushes its statistics when it ends
            after = wait_for(
                lambda: (
                    (v := exp.scrape().get("aftercare_database_deadlocks_total", datname=name))
                    > before
                    and v
                ),
                5,
            )
            assert after - before == 1
            time.sleep(1.2)
            assert (
                exp.scrape().get("aftercare_database_deadlocks_total", datname=name) - before == 1
            )


def test_role_without_pg_monitor_fails_only_tablespaces(tmp_path, monkeypatch):
    monkeypatch.setattr(tablespaces, "REFRESH_SECONDS", 0.0)  # read at every scrape
    role = unique()
    admin = pg_connect()
    with admin.cursor() as cur:
        cur.execute(f'CREATE ROLE "{role}" LOGIN')
        cur.execute(f'GRANT pg_monitor TO "{role}"')
    try:
        with Exporter(tmp_path, [pg(user=role)]) as exp:
            s = exp.scrape()
            assert s.get("aftercare_database_up", database="pg") == 1
            assert set(s.success("pg").values()) == {1.0}
            assert set(s.success("pg")) == set(COLLECTORS) - {"filesystem"}
            with admin.cursor() as cur:
                cur.execute(f'REVOKE pg_monitor FROM "{role}"')
            s = exp.scrape()
        success = s.success("pg")
        assert success.pop("tablespaces") == 0
        assert set(success.values()) == {1.0}
        assert s.get("aftercare_database_up", database="pg") == 1
        assert not s.all("aftercare_database_tablespace_size_bytes")
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP ROLE IF EXISTS "{role}"')
        admin.close()


def test_unknown_role_is_auth_failure(tmp_path):
    with Exporter(tmp_path, [pg(user=unique())]) as exp:
        s = exp.scrape()
    assert s.get("aftercare_database_up", database="pg") == 0
    assert s.get("aftercare_database_failure", database="pg", reason="auth") == 1
    assert set(s.success("pg").values()) == {0.0}


def test_down_server_and_black_hole_are_down_within_timeout(tmp_path):
    with silent_listener() as hole:
        config = [pg("down", port=closed_port()), pg("hole", port=hole), pg("ok")]
        with Exporter(tmp_path, config, timeout="1s") as exp:
            start = time.monotonic()
            s = exp.scrape(budget=10)
            took = time.monotonic() - start
    assert took < 1.5
    assert s.get("aftercare_database_up", database="down") == 0
    assert s.get("aftercare_database_failure", database="down", reason="connect") == 1
    assert s.get("aftercare_database_up", database="hole") == 0
    assert s.get("aftercare_database_failure", database="hole", reason="timeout") == 1
    assert s.get("aftercare_database_up", database="ok") == 1


def test_connection_is_reused_and_reopened_after_server_side_kill(tmp_path):
    with Exporter(tmp_path, [pg()]) as exp:
        target = exp.area.targets[0]
        # the first scrapes visit the other databases for their table sizes
        assert wait_for(lambda: exp.scrape() and target.conn is not None, 20, 0)
        pid = target.conn.get_backend_pid()
        exp.scrape()
        assert target.conn.get_backend_pid() == pid
        admin = pg_connect()
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
        admin.close()
        time.sleep(0.2)
        s = exp.scrape()  # finds the connection dead: down for this scrape at most
        if s.get("aftercare_database_up", database="pg") == 0:
            s = exp.scrape()
        assert s.get("aftercare_database_up", database="pg") == 1
        assert target.conn.get_backend_pid() != pid


def test_long_transaction_slow_query_and_waiting_lock(tmp_path):
    with pg_database() as name:
        holder, waiter, slow = pg_connect(name), pg_connect(name), pg_connect(name)
        with holder.cursor() as cur:
            cur.execute("CREATE TABLE t (id int)")
            cur.execute("BEGIN")
            cur.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        threads = [
            threading.Thread(target=lambda: waiter.cursor().execute("SELECT * FROM t")),
            threading.Thread(target=lambda: slow.cursor().execute("SELECT pg_sleep(2.5)")),
        ]
        for thread in threads:
            thread.start()
        time.sleep(1.3)
        with Exporter(tmp_path, [pg(db=name, slow_query="1s")]) as exp:
            s = exp.scrape()
        with holder.cursor() as cur:
            cur.execute("COMMIT")
        for thread in threads:
            thread.join(10)
        for c in (holder, waiter, slow):
            c.close()
    assert s.get("aftercare_database_oldest_transaction_seconds") >= 1.2
    assert s.get("aftercare_database_locks_waiting") >= 1
    assert s.get("aftercare_database_slow_queries") >= 2  # the sleeper and the waiter
    assert 1.2 <= s.get("aftercare_database_longest_query_seconds") < 60
    assert s.get("aftercare_database_slow_query_threshold_seconds") == 1.0
    assert s.get("aftercare_database_connections", state="idle_in_transaction") >= 1
    assert s.get("aftercare_database_connections", state="active") >= 2


def test_filesystem_of_data_path(tmp_path):
    with Exporter(
        tmp_path,
        [
            pg(data_path=str(tmp_path)),
            pg("nopath"),
            pg("missing", data_path=str(tmp_path / "nope")),
        ],
    ) as exp:
        s = exp.scrape()
    st = os.statvfs(tmp_path)
    assert (
        s.get("aftercare_database_filesystem_size_bytes", database="pg")
        == st.f_blocks * st.f_frsize
    )
    free = s.get("aftercare_database_filesystem_free_bytes", database="pg")
    assert abs(free - st.f_bavail * st.f_frsize) < 50_000_000
    assert "filesystem" not in s.success("nopath")
    assert s.success("missing")["filesystem"] == 0
    assert s.get("aftercare_database_up", database="missing") == 1


def test_idle_primary_reports_no_replica_lag(tmp_path):
    with Exporter(tmp_path, [pg()]) as exp:
        s = exp.scrape()
    assert s.get("aftercare_database_replica") == 0
    assert not s.all("aftercare_database_replication_lag_seconds")
    assert s.get("aftercare_database_max_connections") == 100 - 3
    assert s.get("aftercare_database_statements_available") == 0
    assert abs(s.get("aftercare_database_start_timestamp_seconds") - time.time()) < 30 * 86400
