"""The exporter runtime, end to end through the real CLI: scrape budget, single
flight, failure reasons, reload, bad config, secrets, promtool-clean output."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg2
import pytest
import requests
import yaml

from devstack.postgres import ThrowawayPostgres
from devstack.waiting import wait_until

SHARED = "postgresql://postgres@127.0.0.1:5432/postgres"


def write_config(path: Path, databases: list[dict], timeout: str = "2s") -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "defaults": {"timeout": timeout, "state_dir": str(path.parent)},
                "systems": [{"name": "billing", "databases": databases}],
            }
        )
    )
    return path


def value(samples, name: str, **labels) -> float:
    hits = [
        v for n, ls, v in samples if n == name and all(ls.get(k) == w for k, w in labels.items())
    ]
    assert len(hits) == 1, f"{name}{labels}: {len(hits)} samples"
    return hits[0]


@pytest.fixture
def scratch_db(pg_admin):
    """A database of known content on the shared server, dropped afterwards."""
    name = f"aftercare_rt_{uuid.uuid4().hex[:8]}"
    with pg_admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn = psycopg2.connect(f"postgresql://postgres@127.0.0.1:5432/{name}")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE filler AS SELECT g AS id, repeat('x', 200) AS pad "
            "FROM generate_series(1, 50000) g"
        )
    conn.close()
    yield name
    with pg_admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_database_up_and_size_match_the_server(tmp_path, exporter_factory, pg_admin, scratch_db):
    cfg = write_config(
        tmp_path / "aftercare.yml",
        [
            {
                "name": "billing-pg",
                "type": "postgresql",
                "dsn": f"postgresql://postgres@127.0.0.1:5432/{scratch_db}",
            }
        ],
    )
    exporter = exporter_factory("database", cfg)
    samples = exporter.samples()
    with pg_admin.cursor() as cur:
        cur.execute("SELECT pg_database_size(%s)", (scratch_db,))
        expected = cur.fetchone()[0]
    assert value(samples, "aftercare_database_up", system="billing", database="billing-pg") == 1
    got = value(samples, "aftercare_database_size_bytes", database="billing-pg", datname=scratch_db)
    assert expected > 10_000_000  # 50,000 rows of 200 bytes
    assert abs(got - expected) / expected < 0.05
    assert (
        value(
            samples,
            "aftercare_scrape_collector_success",
            target="billing-pg",
            collector="database_size",
        )
        == 1
    )
    assert value(samples, "aftercare_config_last_reload_successful") == 1


def test_output_is_promtool_clean(tmp_path, exporter_factory):
    cfg = write_config(
        tmp_path / "aftercare.yml",
        [
            {"name": "ok", "type": "postgresql", "dsn": SHARED},
            {
                "name": "closed",
                "type": "postgresql",
                "dsn": "postgresql://postgres@127.0.0.1:1/postgres",
            },
        ],
    )
    exporter = exporter_factory("database", cfg)
    result = subprocess.run(
        ["promtool", "check", "metrics"],
        input=exporter.metrics_text(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == ""


def test_black_hole_costs_its_timeout_and_nothing_more(tmp_path, exporter_factory, blackhole):
    cfg = write_config(
        tmp_path / "aftercare.yml",
        [
            {
                "name": "hole",
                "type": "postgresql",
                "dsn": f"postgresql://postgres@{blackhole.address}/postgres",
            },
            {"name": "ok", "type": "postgresql", "dsn": SHARED},
        ],
        timeout="2s",
    )
    exporter = exporter_factory("database", cfg)
    for header in (None, "10"):  # without and with Prometheus's timeout header
        headers = {"X-Prometheus-Scrape-Timeout-Seconds": header} if header else {}
        start = time.monotonic()
        text = exporter.get("/metrics", headers=headers).text
        elapsed = time.monotonic() - start
        assert 1.9 < elapsed < 2.5, elapsed
        assert 'aftercare_database_up{database="hole",system="billing"} 0.0' in text
        assert 'aftercare_database_up{database="ok",system="billing"} 1.0' in text
        assert (
            'aftercare_database_failure{database="hole",reason="timeout",system="billing"} 1.0'
            in text
        )
    # Prometheus's own budget wins when it is shorter than the target's timeout
    start = time.monotonic()
    exporter.get("/metrics", headers={"X-Prometheus-Scrape-Timeout-Seconds": "1.5"})
    assert time.monotonic() - start < 1.4


def test_concurrent_scrapes_share_one_connection(tmp_path, exporter_factory, pg_admin, scratch_db):
    cfg = write_config(
        tmp_path / "aftercare.yml",
        [
            {
                "name": "billing-pg",
                "type": "postgresql",
                "dsn": f"postgresql://postgres@127.0.0.1:5432/{scratch_db}",
            }
        ],
    )
    exporter = exporter_factory("database", cfg)
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        texts = list(pool.map(lambda _: exporter.get("/metrics").text, range(40)))
    assert all(
        'aftercare_database_up{database="billing-pg",system="billing"} 1.0' in t for t in texts
    )

    def held():
        with pg_admin.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                "AND application_name = 'aftercare-exporter'",
                (scratch_db,),
            )
            return cur.fetchone()[0]

    # a backend that the exporter closed may linger for a moment; what the
    # exporter holds settles at exactly one connection
    wait_until(lambda: held() == 1, 5, what="exactly one exporter connection")


@pytest.fixture
def password_pg(tmp_path):
    """A throwaway cluster that requires a password over TCP (scram-sha-256)."""
    pg = ThrowawayPostgres()
    pwfile = pg.dir / "pw"
    pwfile.write_text("Corr3ct-Horse\n")
    os.chown(pwfile, pg.dir.stat().st_uid, pg.dir.stat().st_gid)
    pg.initdb_args = ["--auth-host=scram-sha-256", f"--pwfile={pwfile}"]
    with pg:
        yield pg


def test_failure_reasons_and_secrets(tmp_path, exporter_factory, password_pg):
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("Wr0ng-Secret-Value\n")
    right = tmp_path / "right.pass"
    right.write_text("Corr3ct-Horse\n")
    dsn = f"postgresql://postgres@127.0.0.1:{password_pg.port}/postgres"
    cfg = write_config(
        tmp_path / "aftercare.yml",
        [
            {"name": "wrong-pw", "type": "postgresql", "dsn": dsn, "password_file": str(wrong)},
            {"name": "right-pw", "type": "postgresql", "dsn": dsn, "password_file": str(right)},
            {
                "name": "dsn-pw",
                "type": "postgresql",
                "dsn": f"postgresql://postgres:Dsn-Secret-99@127.0.0.1:{password_pg.port}/postgres",
            },
            {
                "name": "closed",
                "type": "postgresql",
                "dsn": "postgresql://postgres@127.0.0.1:1/postgres",
            },
            {
                "name": "nxdomain",
                "type": "postgresql",
                "dsn": "postgresql://postgres@db.invalid/postgres",
            },
        ],
    )
    exporter = exporter_factory("database", cfg, "--log.level", "debug")
    samples = exporter.samples()
    up = {ls["database"]: v for n, ls, v in samples if n == "aftercare_database_up"}
    assert up == {"wrong-pw": 0, "right-pw": 1, "dsn-pw": 0, "closed": 0, "nxdomain": 0}
    reasons = {
        ls["database"]: ls["reason"]
        for n, ls, v in samples
        if n == "aftercare_database_failure" and v == 1
    }
    assert reasons == {"wrong-pw": "auth", "dsn-pw": "auth", "closed": "connect", "nxdomain": "dns"}
    exporter.post("/-/reload")
    everything = exporter.metrics_text() + exporter.stderr_text() + exporter.stdout_text()
    assert "target down" in exporter.stderr_text()
    for secret in ("Wr0ng-Secret-Value", "Corr3ct-Horse", "Dsn-Secret-99"):
        assert secret not in everything


def test_reload_keeps_the_old_config_when_the_new_one_is_bad(tmp_path, exporter_factory):
    cfg = write_config(
        tmp_path / "aftercare.yml", [{"name": "first", "type": "postgresql", "dsn": SHARED}]
    )
    exporter = exporter_factory("database", cfg)
    assert 'database="first"' in exporter.metrics_text()

    write_config(
        cfg,
        [
            {"name": "first", "type": "postgresql", "dsn": SHARED},
            {"name": "second", "type": "postgresql", "dsn": SHARED},
        ],
    )
    exporter.send_signal(signal.SIGHUP)
    wait_until(lambda: 'database="second"' in exporter.metrics_text(), 10, what="SIGHUP reload")

    cfg.write_text(cfg.read_text().replace("timeout: 2s", "timeout: soon"))
    answer = exporter.post("/-/reload")
    assert answer.status_code == 500
    assert "defaults.timeout" in answer.text and "expected a duration" in answer.text
    text = exporter.metrics_text()
    assert "aftercare_config_last_reload_successful 0.0" in text
    assert 'aftercare_database_up{database="second",system="billing"} 1.0' in text
    assert "config reload failed" in exporter.stderr_text()

    cfg.write_text(cfg.read_text().replace("timeout: soon", "timeout: 2s"))
    assert exporter.post("/-/reload").status_code == 200
    assert "aftercare_config_last_reload_successful 1.0" in exporter.metrics_text()


def test_endpoints(tmp_path, exporter_factory):
    cfg = write_config(
        tmp_path / "aftercare.yml", [{"name": "a", "type": "postgresql", "dsn": SHARED}]
    )
    exporter = exporter_factory("database", cfg)
    assert exporter.get("/-/healthy").status_code == 200
    assert exporter.get("/-/ready").status_code == 200
    index = exporter.get("/")
    assert index.status_code == 200 and "/metrics" in index.text
    assert exporter.get("/nope").status_code == 404
    assert exporter.get("/-/reload").status_code == 405
    gz = exporter.get("/metrics", headers={"Accept-Encoding": "gzip"})
    assert gz.headers.get("Content-Encoding") == "gzip" and "aftercare_database_up" in gz.text
    om = exporter.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert om.headers["Content-Type"].startswith("application/openmetrics-text")
    assert om.text.rstrip().endswith("# EOF")


@pytest.mark.parametrize(
    "content, key",
    [
        ("systems: []\n", "systems"),
        (
            "systems:\n  - name: s\n    databases:\n      - {name: d, type: oracle, dsn: x}\n",
            "systems[0].databases[0].type",
        ),
    ],
)
def test_bad_config_at_start_exits_2_with_one_line(tmp_path, content, key):
    cfg = tmp_path / "aftercare.yml"
    cfg.write_text(content)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "exporters.cli",
            "database",
            "--config.file",
            str(cfg),
            "--web.listen-address",
            "127.0.0.1:0",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(cfg) in lines[0] and key in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_basic_auth_protects_every_endpoint(tmp_path, exporter_factory):
    import bcrypt

    web = tmp_path / "web.yml"
    web.write_text(
        yaml.safe_dump(
            {
                "basic_auth_users": {
                    "prometheus": bcrypt.hashpw(b"scrape-pass", bcrypt.gensalt(4)).decode()
                }
            }
        )
    )
    cfg = write_config(
        tmp_path / "aftercare.yml", [{"name": "a", "type": "postgresql", "dsn": SHARED}]
    )
    exporter = exporter_factory(
        "database", cfg, "--web.config.file", str(web), auth=("prometheus", "scrape-pass")
    )
    for path in ("/metrics", "/-/healthy", "/-/ready", "/"):
        assert requests.get(exporter.url + path, timeout=5).status_code == 401
        assert (
            requests.get(exporter.url + path, auth=("prometheus", "wrong"), timeout=5).status_code
            == 401
        )
        assert (
            requests.get(
                exporter.url + path, auth=("prometheus", "scrape-pass"), timeout=5
            ).status_code
            == 200
        )
    assert requests.post(exporter.url + "/-/reload", timeout=5).status_code == 401
    assert "scrape-pass" not in exporter.stderr_text()
