"""Shared fixtures over the dev stack (devstack/): real Prometheus, Alertmanager, PostgreSQL,
webhook sink, black hole."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from devstack import REPO_ROOT
from devstack.alertmanager import FAST_TIMINGS, Alertmanager
from devstack.blackhole import BlackHole
from devstack.exporter import ExporterProcess
from devstack.pgbackrest import PgBackRestRepo
from devstack.postgres import ThrowawayPostgres
from devstack.prometheus import Prometheus
from devstack.webhook import WebhookSink

# the desk tests' fixtures (desk_url on SQLite and PostgreSQL, desk_engine, desk_app, token_file)
pytest_plugins = ["tests.desk_fixtures"]

SHARED_PG_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's root directory."""
    return REPO_ROOT


@pytest.fixture
def tmp_state_dir(tmp_path: Path) -> Path:
    """An empty directory for a test's state files."""
    path = tmp_path / "state"
    path.mkdir()
    return path


@pytest.fixture
def webhook_sink() -> Iterator[WebhookSink]:
    """A running WebhookSink, fresh for each test."""
    with WebhookSink() as sink:
        yield sink


@pytest.fixture
def alertmanager_factory(webhook_sink: WebhookSink) -> Iterator[Callable[..., Alertmanager]]:
    """Callable starting Alertmanagers; all are stopped at teardown.

    ``factory(config_text=None, *, path=None, webhook_address=<webhook_sink>,
    timings=FAST_TIMINGS, **kw)``:
    with neither config_text nor path it loads the project's alertmanager/alertmanager.yml.
    Pass ``timings={}`` to keep the file's own group_wait/group_interval.
    """
    started: list[Alertmanager] = []

    def factory(
        config_text: str | None = None,
        *,
        path: str | Path | None = None,
        webhook_address: str | None = None,
        timings: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Alertmanager:
        kwargs["webhook_address"] = webhook_address or webhook_sink.address
        kwargs["timings"] = dict(FAST_TIMINGS) if timings is None else timings
        if config_text is None:
            am = Alertmanager.from_file(
                path or REPO_ROOT / "alertmanager" / "alertmanager.yml", **kwargs
            )
        else:
            am = Alertmanager(config_text, **kwargs)
        started.append(am)
        return am.start()

    yield factory
    for am in started:
        am.close()


@pytest.fixture
def prometheus_factory() -> Iterator[Callable[..., Prometheus]]:
    """Callable starting Prometheus servers (arguments as Prometheus()); all are stopped at
    teardown."""
    started: list[Prometheus] = []

    def factory(**kwargs: Any) -> Prometheus:
        prom = Prometheus(**kwargs)
        started.append(prom)
        return prom.start()

    yield factory
    for prom in started:
        prom.close()


@pytest.fixture
def exporter_factory() -> Iterator[Callable[..., ExporterProcess]]:
    """Callable starting exporter subprocesses (arguments as ExporterProcess()); all stopped at
    teardown."""
    started: list[ExporterProcess] = []

    def factory(area: str, config_file: str | Path, *extra: str, **kwargs: Any) -> ExporterProcess:
        exporter = ExporterProcess(area, config_file, extra=extra, **kwargs)
        started.append(exporter)
        return exporter.start()

    yield factory
    for exporter in started:
        exporter.close()


@pytest.fixture
def throwaway_pg() -> Iterator[ThrowawayPostgres]:
    """A started, empty PostgreSQL 15 cluster of the test's own, removed at teardown."""
    with ThrowawayPostgres() as pg:
        yield pg


@pytest.fixture(scope="session")
def pgbackrest_repo() -> Iterator[PgBackRestRepo]:
    """A throwaway cluster archiving into a real pgBackRest repository, stanza ``main``
    created and one full backup taken; shared by the session (tests that change it say so)."""
    with PgBackRestRepo() as repo:
        repo.backup("full")
        yield repo


@pytest.fixture
def blackhole() -> Iterator[BlackHole]:
    """A TCP address that accepts connections and never answers."""
    with BlackHole() as hole:
        yield hole


@pytest.fixture
def pg_admin() -> Iterator[Any]:
    """An autocommit psycopg2 connection to the machine's shared PostgreSQL as postgres."""
    conn = psycopg2.connect(SHARED_PG_DSN, connect_timeout=5)
    conn.autocommit = True
    try:
        yield conn
    finally:
        conn.close()
