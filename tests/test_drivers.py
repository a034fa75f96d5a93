"""The shared database drivers: one classification for the database exporter and the
link probes, against real login failures, and the one reserved-name guard."""

from __future__ import annotations

import pymysql
import pytest

from exporters.config import validate
from exporters.database import DatabaseArea
from exporters.drivers import REASONS, mysql, postgresql
from exporters.probes import ProbeFailed
from exporters.probes import mysql as mysql_probe
from exporters.probes import postgresql as postgresql_probe
from exporters.probes.core import refuse_reserved_name


def config(url: str):
    kind = url.split(":", 1)[0]
    return validate(
        {"systems": [{"name": "t", "databases": [{"name": "d", "type": kind, "dsn": url}]}]}
    )


def dsn(url: str):
    return config(url).systems[0].databases[0].dsn


def area():
    """The database area of a one-database config (nothing is connected at build)."""
    return DatabaseArea(config("postgresql://postgres@127.0.0.1:5432/postgres"))


def test_unknown_mysql_auth_plugin_is_auth_on_both_sides():
    err = pymysql.err.OperationalError(1251, "Client does not support authentication protocol")
    assert mysql.classify(err) == "auth"
    assert area().classify(err) == "auth"
    assert mysql_probe.classify(err) == "auth"


def test_real_postgresql_login_failure_is_auth_on_both_sides():
    with pytest.raises(Exception) as caught:
        postgresql.connect(
            dsn("postgresql://no_such_role_aftercare@127.0.0.1:5432/postgres"), None, 2.0
        )
    assert postgresql.classify(caught.value) == "auth"
    assert area().classify(caught.value) == "auth"
    assert postgresql_probe.classify(caught.value) == "auth"


def test_real_mysql_login_failure_is_auth_on_both_sides():
    with pytest.raises(pymysql.err.OperationalError) as caught:
        mysql.connect(dsn("mysql://no_such_user_aftercare@127.0.0.1:3306/"), None, 2.0)
    assert mysql.error_code(caught.value) in (1045, 1698)  # MySQL; MariaDB with unix_socket
    assert area().classify(caught.value) == "auth"
    assert mysql_probe.classify(caught.value) == "auth"


def test_real_postgresql_session_is_read_only_with_timeouts():
    conn = postgresql.connect(dsn("postgresql://postgres@127.0.0.1:5432/postgres"), None, 3.0)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW default_transaction_read_only")
            assert cur.fetchone() == ("on",)
            cur.execute("SHOW statement_timeout")
            assert cur.fetchone() == ("3s",)
    finally:
        conn.close()


def test_each_side_maps_the_driver_reasons_onto_its_own():
    plain = RuntimeError("something else")
    assert postgresql.classify(plain) == "error" and "error" in REASONS
    assert area().classify(plain) == "error"
    assert postgresql_probe.classify(plain) == "connect"
    assert mysql_probe.classify(plain) == "content"
    tls = RuntimeError("SSL error: certificate verify failed")
    assert postgresql_probe.classify(tls) == "tls"
    assert area().classify(tls) == "connect"  # the database area has no tls reason


@pytest.mark.parametrize("host", ["invalid", "invalid.", "db.invalid", "DB.Example.INVALID."])
def test_reserved_names_are_refused(host):
    with pytest.raises(ProbeFailed) as caught:
        refuse_reserved_name(host)
    assert caught.value.reason == "dns"


@pytest.mark.parametrize("host", ["invalid.example", "notinvalid", "127.0.0.1", "db.example"])
def test_other_names_pass(host):
    refuse_reserved_name(host)
