"""Fixtures for the desk tests: a migrated database on SQLite or the machine's PostgreSQL
(a database made for the test and dropped after), the app, accounts and logged-in clients."""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Iterator

import psycopg2
import pytest
from sqlalchemy import select

from desk.auth import hash_password
from desk.config import Customer, DeskConfig
from desk.db import make_engine, migrate, sessions
from desk.models import User

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
PASSWORD = "correct-horse-9"


def _pg_admin(sql: str) -> None:
    conn = psycopg2.connect(PG_ADMIN_DSN)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def desk_url(request, tmp_path) -> Iterator[str]:
    """A database URL for an empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'desk.db'}"
        return
    name = f"desk_test_{secrets.token_hex(4)}"
    _pg_admin(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def desk_config(token_file: str = "") -> DeskConfig:
    return DeskConfig(
        customers={
            "acme": Customer(name="ACME", systems=["billing"]),
            "globex": Customer(name="Globex", systems=["crm"]),
        },
        intake_token_file=token_file,
    )


@pytest.fixture
def desk_engine(desk_url):
    engine = make_engine(desk_url)
    migrate(engine)
    yield engine
    engine.dispose()


def add_user(engine, name: str, role: str, customer: str = "") -> None:
    with sessions(engine)() as db:
        db.add(
            User(
                username=name,
                role=role,
                customer=customer,
                password_hash=hash_password(PASSWORD, rounds=4),
            )
        )
        db.commit()


@pytest.fixture
def token_file(tmp_path) -> str:
    path = tmp_path / "intake.token"
    path.write_text("intake-secret-token\n")
    return str(path)


@pytest.fixture
def desk_app(desk_engine, token_file):
    from desk.web import create_app

    add_user(desk_engine, "eng", "engineer")
    add_user(desk_engine, "alice", "customer", "acme")
    add_user(desk_engine, "gary", "customer", "globex")
    app = create_app(desk_config(token_file), desk_engine)
    app.testing = True
    return app


def csrf_of(client) -> str:
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def login(app, name: str):
    client = app.test_client()
    token = csrf_of(client)
    response = client.post("/login", data={"username": name, "password": PASSWORD, "csrf": token})
    assert response.status_code == 303, response.get_data(as_text=True)
    with client.session_transaction() as sess:
        client.csrf = sess["csrf"]
    return client


def user_id(engine, name: str) -> int:
    with sessions(engine)() as db:
        return db.scalars(select(User.id).where(User.username == name)).one()


class LiveDesk:
    """The app served by werkzeug on a free loopback port in a thread."""

    def __init__(self, app):
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.port}"
        self.address = f"127.0.0.1:{self.server.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
