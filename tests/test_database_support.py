"""Helpers for the database area tests (no tests here): config files, in-process
scrapes, throwaway databases on the shared servers, a silent TCP listener."""

from __future__ import annotations

import secrets
import socket
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pymysql
import yaml

from exporters.config import load_config
from exporters.database import DatabaseArea
from exporters.runtime import Scraper

PG = dict(host="127.0.0.1", port=5432, user="postgres")
MY = dict(host="127.0.0.1", port=3306, user="root", password="")


def unique(prefix: str = "aftercare_test_") -> str:
    return prefix + secrets.token_hex(4)


def write_config(tmp_path: Path, databases: list[dict], timeout: str = "5s") -> Path:
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    path = tmp_path / "aftercare.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "defaults": {"timeout": timeout, "state_dir": str(state)},
                "systems": [{"name": "demo", "databases": databases}],
            }
        )
    )
    return path


class Exporter:
    """The database area served in-process: scrape() returns samples."""

    def __init__(self, tmp_path: Path, databases: list[dict], timeout: str = "5s"):
        self.config = load_config(str(write_config(tmp_path, databases, timeout)))
        self.area = DatabaseArea(self.config)
        self.scraper = Scraper([self.area])

    def scrape(self, budget: float = 10.0) -> Samples:
        return Samples(self.scraper.scrape(budget))

    def close(self) -> None:
        self.scraper.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Samples:
    def __init__(self, families):
        self.rows = [(s.name, dict(s.labels), s.value) for f in families for s in f.samples]

    def all(self, name: str, **labels) -> list[tuple[dict, float]]:
        return [
            (lab, v)
            for n, lab, v in self.rows
            if n == name and all(lab.get(k) == str(val) for k, val in labels.items())
        ]

    def get(self, name: str, **labels) -> float:
        found = self.all(name, **labels)
        assert len(found) == 1, f"{name}{labels}: {len(found)} samples: {found}"
        return found[0][1]

    def success(self, target: str) -> dict[str, float]:
        return {
            lab["collector"]: v
            for lab, v in self.all("aftercare_scrape_collector_success", target=target)
        }


def pg_connect(dbname: str = "postgres", **kwargs):
    conn = psycopg2.connect(dbname=dbname, connect_timeout=5, **{**PG, **kwargs})
    conn.autocommit = True
    return conn


def my_connect(database: str | None = None, **kwargs):
    return pymysql.connect(
        database=database, autocommit=True, connect_timeout=5, **{**MY, **kwargs}
    )


@contextmanager
def pg_database():
    """A fresh database on the shared PostgreSQL, dropped afterwards."""
    name = unique()
    admin = pg_connect()
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextmanager
def my_database():
    """A fresh schema on the shared MariaDB, dropped afterwards."""
    name = unique()
    admin = my_connect()
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
    try:
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


@contextmanager
def silent_listener():
    """A loopback port that completes TCP handshakes and never says a word."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def closed_port() -> int:
    """A loopback port nobody listens on (connections are refused)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.2):
    """Call predicate until it returns something truthy; return that, or the last value."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > end:
            return value
        time.sleep(interval)
