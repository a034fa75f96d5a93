"""A database collector declares the functions it runs (``RUNS``); a module that
lacks a function it declares fails when its package is imported."""

from __future__ import annotations

import importlib
import re
import sys
import textwrap
import types
from pathlib import Path

import pytest

import exporters
from exporters.database import COLLECTORS
from exporters.database.collector import register

PACKAGE = Path(exporters.__file__).parent


def _module(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(textwrap.dedent(source), name, "exec"), module.__dict__)
    return module


def test_the_registered_collectors_match_their_declarations():
    runs = {name: tuple(c.runs) for name, c in COLLECTORS.items()}
    assert runs["filesystem"] == ("local",)
    assert runs["wal_archiving"] == ("postgresql",)
    assert runs["connections"] == ("postgresql", "mysql")
    assert all(c.metrics for c in COLLECTORS.values())


@pytest.mark.parametrize(
    "source, message",
    [
        (
            'RUNS = ("postgresql", "mysql")\ndef postgresql(cur, target, sink): pass\n',
            "RUNS declares mysql but the module defines no mysql()",
        ),
        (
            'RUNS = ("postgresql",)\ndef postgresql(cur, target, sink): pass\n'
            "def mysql(cur, target, sink): pass\n",
            "defines mysql() but RUNS does not declare it",
        ),
        ("def postgresql(cur, target, sink): pass\n", "RUNS must be a non-empty tuple"),
        (
            'RUNS = ("postgres",)\ndef postgres(cur, target, sink): pass\n',
            "RUNS must be a non-empty tuple",
        ),
        (
            'RUNS = ("local",)\ndef local(cur, target, sink): pass\n',
            "local() must take (target, sink)",
        ),
        ('RUNS = ("postgresql",)\npostgresql = None\n', "defines no postgresql()"),
    ],
)
def test_a_collector_not_matching_its_declaration_is_refused(source, message):
    with pytest.raises(TypeError, match=re.escape(message)):
        register("broken", _module("aftercare_test_broken_collector", source))


def test_a_collector_module_missing_its_engine_function_fails_at_import(tmp_path, monkeypatch):
    package = tmp_path / "aftercare_test_collectors"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from exporters.database.collector import register_all\n"
        "from . import replication\n"
        "COLLECTORS = register_all({'replication': replication})\n"
    )
    # a copy of a real collector whose MySQL function was misnamed
    source = (PACKAGE / "database" / "replication.py").read_text()
    assert "\ndef mysql(cur, target, sink)" in source
    source = source.replace("from ..metrics import", "from exporters.metrics import")
    (package / "replication.py").write_text(
        source.replace("\ndef mysql(cur, target, sink)", "\ndef mysq(cur, target, sink)")
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(TypeError, match="RUNS declares mysql but the module defines no mysql"):
        importlib.import_module("aftercare_test_collectors")
    sys.modules.pop("aftercare_test_collectors", None)
    sys.modules.pop("aftercare_test_collectors.replication", None)
