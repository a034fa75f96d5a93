"""The database area against the real MariaDB at 127.0.0.1:3306."""

from __future__ import annotations

import logging
import os
import threading
import time

import pymysql
import pytest

from exporters.database import COLLECTORS
from tests.test_database_support import (
    Exporter,
    closed_port,
    my_connect,
    my_database,
    silent_listener,
    unique,
)

ONLY_PG = {"tablespaces", "checkpoints", "wal_archiving", "filesystem"}


def my(name="my", user="root", port=3306, db="", **extra) -> dict:
    return {"name": name, "type": "mysql", "dsn": f"mysql://{user}@127.0.0.1:{port}/{db}", **extra}


@pytest.fixture
def known_schema():
    """A schema with one ~10 MB InnoDB table and 9 small ones of clearly distinct sizes
    (0.07 to 5.5 MB)."""
    with my_database() as name:
        conn = my_connect(name)
        with conn.cursor() as cur:
            cur.execute(
                "CREATE TABLE big (id int PRIMARY KEY, payload varchar(2000)) ENGINE=InnoDB"
            )
            cur.execute(
                "INSERT INTO big SELECT seq, CONCAT(REPEAT(MD5(seq), 31), LEFT(MD5(seq), 8)) "
                "FROM seq_1_to_10000"
            )
            for i in range(9):
                cur.execute(f"CREATE TABLE small_{i} (x varchar(300)) ENGINE=InnoDB")
                cur.execute(
                    f"INSERT INTO small_{i} SELECT REPEAT('x', 250) "
                    f"FROM seq_1_to_{(i + 1) ** 2 * 250}"
                )
        conn.close()
        yield name


@pytest.fixture
def monitor_user():
    """A user with the documented least-privilege grants, dropped afterwards."""
    user = unique("aftercare_mon_")
    admin = my_connect()
    with admin.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 's3cret-Pw'")
        cur.execute(f"GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR ON *.* TO '{user}'@'%'")
        cur.execute(f"GRANT SELECT ON performance_schema.* TO '{user}'@'%'")
    try:
        yield user
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        admin.close()


def test_schema_size_matches_files_on_disk(tmp_path, known_schema):
    with Exporter(tmp_path, [my()]) as exp:
        s = exp.scrape()
    size = s.get("aftercare_database_size_bytes", datname=known_schema)
    with my_connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT @@datadir")
        datadir = cur.fetchone()[0]
    folder = os.path.join(datadir, known_schema)
    on_disk = sum(
        os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder) if f.endswith(".ibd")
    )
    assert abs(size - on_disk) / on_disk < 0.03
    big = s.get("aftercare_database_table_size_bytes", datname=known_schema, table="big")
    assert big == os.path.getsize(os.path.join(folder, "big.ibd"))
    assert 10_000_000 <= big < 25_000_000  # 10 MB of rows in 16 KiB pages and extents
    assert s.get("aftercare_database_up", database="my") == 1


def test_least_privilege_user_sees_everything(tmp_path, known_schema, monitor_user):
    password_file = tmp_path / "pass"
    password_file.write_text("s3cret-Pw\n")
    with Exporter(
        tmp_path, [my(user=monitor_user, password_file=str(password_file), top_tables=3)]
    ) as exp:
        s = exp.scrape()
        success = s.success("my")
        assert set(success) == set(COLLECTORS) - ONLY_PG
        assert set(success.values()) == {1.0}
        labels = {
            lab["table"]
            for lab, _ in s.all("aftercare_database_table_size_bytes", datname=known_schema)
        }
        assert labels == {"big", "small_8", "small_7", "__other__"}
        assert s.get("aftercare_database_tables", datname=known_schema) == 10
        # without the replication monitoring privileges only that collector fails
        with my_connect() as admin, admin.cursor() as cur:
            cur.execute(
                f"REVOKE REPLICATION CLIENT, SLAVE MONITOR ON *.* FROM '{monitor_user}'@'%'"
            )
        exp.scraper.close()
        for target in exp.area.targets:
            target.close()  # privileges are read at login
        s = exp.scrape()
    success = s.success("my")
    assert success.pop("replication") == 0
    assert set(success.values()) == {1.0}
    assert "s3cret" not in repr(s.rows)


def test_wrong_password_is_auth_failure_and_never_shown(tmp_path, monitor_user, caplog):
    password_file = tmp_path / "pass"
    password_file.write_text("wrong-Secret-42\n")
    caplog.set_level(logging.DEBUG)
    with Exporter(tmp_path, [my(user=monitor_user, password_file=str(password_file))]) as exp:
        s = exp.scrape()
    assert s.get("aftercare_database_up", database="my") == 0
    assert s.get("aftercare_database_failure", database="my", reason="auth") == 1
    assert "wrong-Secret-42" not in caplog.text + repr(s.rows)


def test_real_deadlock_counts_exactly_one(tmp_path):
    with my_database() as name:
        with my_connect(name) as setup, setup.cursor() as cur:
            cur.execute("CREATE TABLE t (id int PRIMARY KEY, v int) ENGINE=InnoDB")
            cur.execute("INSERT INTO t VALUES (1, 0), (2, 0)")
        with Exporter(tmp_path, [my()]) as exp:
            before = exp.scrape().get("aftercare_database_deadlocks_total", datname="")
            a, b = my_connect(name), my_connect(name)
            ca, cb = a.cursor(), b.cursor()
            for cur in (ca, cb):
                cur.execute("SET SESSION innodb_lock_wait_timeout = 10")
                cur.execute("BEGIN")
            ca.execute("UPDATE t SET v = v + 1 WHERE id = 1")
            cb.execute("UPDATE t SET v = v + 1 WHERE id = 2")
            errors = []

            def cross():
                try:
                    ca.execute("UPDATE t SET v = v + 1 WHERE id = 2")
                except pymysql.err.OperationalError as err:
                    errors.append(err.args[0])

            thread = threading.Thread(target=cross)
            thread.start()
            time.sleep(0.3)
            try:
                cb.execute("UPDATE t SET v = v + 1 WHERE id = 1")
            except pymysql.err.OperationalError as err:
                errors.append(err.args[0])
            thread.join(15)
            assert errors == [1213]  # ER_LOCK_DEADLOCK, once
            a.rollback(), b.rollback()
            a.close(), b.close()
            after = exp.scrape().get("aftercare_database_deadlocks_total", datname="")
    assert after - before == 1


def test_long_transaction_slow_query_and_waiting_lock(tmp_path):
    with my_database() as name:
        with my_connect(name) as setup, setup.cursor() as cur:
            cur.execute("CREATE TABLE t (id int PRIMARY KEY) ENGINE=InnoDB")
            cur.execute("INSERT INTO t VALUES (1)")
        holder, waiter, slow = my_connect(name), my_connect(name), my_connect(name)
        hc = holder.cursor()
        hc.execute("BEGIN")
        hc.execute("SELECT * FROM t WHERE id = 1 FOR UPDATE")

        def wait():
            with waiter.cursor() as cur:
                cur.execute("SET SESSION innodb_lock_wait_timeout = 5")
                try:
                    cur.execute("UPDATE t SET id = 2 WHERE id = 1")
                except pymysql.err.OperationalError:
                    pass

        threads = [
            threading.Thread(target=wait),
            threading.Thread(target=lambda: slow.cursor().execute("SELECT SLEEP(3)")),
        ]
        for thread in threads:
            thread.start()
        time.sleep(2.2)
        with Exporter(tmp_path, [my(slow_query="1s")]) as exp:
            s = exp.scrape()
        holder.rollback()
        for thread in threads:
            thread.join(10)
        for c in (holder, waiter, slow):
            c.close()
    assert s.get("aftercare_database_oldest_transaction_seconds") >= 2.0
    assert s.get("aftercare_database_locks_waiting") >= 1
    assert s.get("aftercare_database_slow_queries") >= 2
    assert 2 <= s.get("aftercare_database_longest_query_seconds") < 60
    assert s.get("aftercare_database_connections", state="idle_in_transaction") >= 1
    assert s.get("aftercare_database_connections", state="active") >= 2


def test_down_server_and_black_hole_are_down_within_timeout(tmp_path):
    with silent_listener() as hole:
        config = [my("down", port=closed_port()), my("hole", port=hole), my("ok")]
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


def test_server_facts(tmp_path):
    with Exporter(tmp_path, [my()]) as exp:
        s = exp.scrape()
    with my_connect() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT @@max_connections, @@performance_schema, UNIX_TIMESTAMP() - "
            "(SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
            "WHERE VARIABLE_NAME = 'UPTIME')"
        )
        max_connections, perf_schema, started = cur.fetchone()
    assert s.get("aftercare_database_max_connections") == max_connections
    assert s.get("aftercare_database_statements_available") == perf_schema
    assert abs(s.get("aftercare_database_start_timestamp_seconds") - float(started)) <= 2
    assert s.get("aftercare_database_replica") == 0
    labels, _ = s.all("aftercare_database_version_info")[0]
    assert labels["engine"] == "mariadb" and labels["version"][:2].isdigit()
