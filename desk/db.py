"""Engines and sessions; the Alembic migrations run from here (``aftercare-desk migrate``)."""

from __future__ import annotations

import secrets
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from .models import Setting

MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(url: str) -> Engine:
    """An engine; SQLite waits for a lock rather than failing at once, and runs in WAL mode."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 5, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10)


def alembic_config(engine: Engine) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (the same steps on SQLite and PostgreSQL)."""
    command.upgrade(alembic_config(engine), revision)


def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def secret_key(engine: Engine) -> str:
    """The session signing key, made once and kept in the database."""
    with sessions(engine)() as db:
        row = db.get(Setting, "secret_key")
        if row is None:
            row = Setting(key="secret_key", value=secrets.token_hex(32))
            db.add(row)
            db.commit()
        return row.value


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def ping(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(select(1))
        return True
    except Exception:
        return False
