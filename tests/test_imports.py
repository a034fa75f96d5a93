"""The layering of the checkout: the test suite and the benchmarks are leaves.

Nothing outside tests/ imports ``tests`` or ``bench`` (the dev stack the tests, the demos
and the benchmarks share lives in devstack/), checked on the source by its syntax tree.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

from devstack import REPO_ROOT

FORBIDDEN = ("tests", "bench")
SKIPPED_DIRS = {".git", ".venv", "build", "dist", "node_modules", "__pycache__", "tests"}


def python_files() -> list[Path]:
    """Every .py file of the checkout outside tests/ and tool directories."""
    files = []
    for directory, subdirs, names in os.walk(REPO_ROOT):
        subdirs[:] = sorted(
            d
            for d in subdirs
            if d not in SKIPPED_DIRS and not d.endswith(".egg-info") and not d.startswith(".")
        )
        files += [Path(directory, n) for n in sorted(names) if n.endswith(".py")]
    return files


def imported_modules(source: str, package: tuple[str, ...]) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, a module of ``package``
    (relative imports resolved against it)."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join((*base, node.module) if node.module else base)
            else:
                module = node.module or ""
            names.append((node.lineno, module))
    return names


def test_the_scan_sees_the_checkout():
    scanned = {p.relative_to(REPO_ROOT).as_posix() for p in python_files()}
    assert {
        "scripts/demo.py",
        "scripts/demo_month.py",
        "devstack/prometheus.py",
        "bench/soak.py",
        "exporters/cli.py",
        "reportgen/prom.py",
    } <= scanned
    assert not any(name.startswith(("tests/", ".venv/")) for name in scanned)


def test_imports_are_found_anywhere_and_relative_ones_resolved():
    source = (
        "from . import soak\n"
        "from ..exporters import cli\n"
        "def later():\n"
        "    import tests.conftest, yaml\n"
        "    from .runtime import x\n"
    )
    assert sorted(imported_modules(source, ("bench",))) == [
        (1, "bench"),
        (2, "exporters"),
        (4, "tests.conftest"),
        (4, "yaml"),
        (5, "bench.runtime"),
    ]


def test_nothing_outside_tests_imports_tests_or_bench():
    offenders = []
    for path in python_files():
        package = path.relative_to(REPO_ROOT).parts[:-1]
        for line, module in imported_modules(path.read_text(encoding="utf-8"), package):
            if module.split(".")[0] in FORBIDDEN:
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{line}: imports {module}")
    assert offenders == []
