"""The desk's schema through the migrations on SQLite and PostgreSQL, and its commands."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import inspect, text

from desk import kb
from desk.cli import main
from desk.db import make_engine, migrate, sessions
from desk.models import KnowledgeDoc

TABLES = {
    "users",
    "incidents",
    "notes",
    "remedies",
    "audit_log",
    "kb_docs",
    "settings",
    "alembic_version",
}


def test_migrations_make_the_same_tables_on_both(desk_engine):
    names = set(inspect(desk_engine).get_table_names())
    assert TABLES <= names
    with desk_engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
    migrate(desk_engine)  # again: nothing to do, no error
    uniques = inspect(desk_engine).get_unique_constraints("incidents")
    assert any(set(u["column_names"]) == {"fingerprint", "starts_at"} for u in uniques)


def test_knowledge_base_finds_chinese_without_spaces(desk_engine):
    with sessions(desk_engine)() as db:
        db.add(
            KnowledgeDoc(
                source="runbook",
                ref="runbook:x",
                title="数据库连接",
                body="检查磁盘空间是否已满，然后重启数据库服务。",
            )
        )
        db.add(
            KnowledgeDoc(
                source="incident",
                ref="incident:1",
                title="Backup overdue",
                body="The pgBackRest stanza was missing; re-created it.",
            )
        )
        db.commit()
        assert [d.ref for d in kb.search(db, "磁盘空间")] == ["runbook:x"]
        assert [d.ref for d in kb.search(db, "磁盘")] == ["runbook:x"]  # two characters
        assert [d.ref for d in kb.search(db, "重启数据库")] == ["runbook:x"]
        assert [d.ref for d in kb.search(db, "STANZA")] == ["incident:1"]
        assert kb.search(db, "100%_'; DROP TABLE kb_docs; --") == []
        assert db.query(KnowledgeDoc).count() == 2


def test_migrate_and_useradd_commands(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["--database", url, "migrate"]) == 0
    assert "runbook(s) indexed" in capsys.readouterr().out
    password = tmp_path / "pw"
    password.write_text("long-enough-pw\n")
    assert (
        main(
            [
                "--database",
                url,
                "useradd",
                "eng",
                "--role",
                "engineer",
                "--password-file",
                str(password),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "--database",
                url,
                "useradd",
                "c1",
                "--role",
                "customer",
                "--password-file",
                str(password),
            ]
        )
        == 2
    )
    with make_engine(url).connect() as conn:
        row = conn.execute(text("SELECT role, password_hash FROM users")).one()
    assert row[0] == "engineer" and row[1].startswith("$2")
    assert "long-enough-pw" not in row[1]


def test_config_naming_an_unknown_role_is_one_line_and_exit_2(tmp_path):
    config = tmp_path / "desk.yml"
    config.write_text("accounts:\n  bob:\n    role: boss\n")
    result = subprocess.run(
        [sys.executable, "-m", "desk.cli", "--config.file", str(config), "migrate"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "accounts.bob.role" in result.stderr and "engineer, customer, admin" in result.stderr
    assert "Traceback" not in result.stderr
