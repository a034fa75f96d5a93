"""`aftercare-exporter check-config FILE`: exit 0 and a one-line summary for a
valid file; exit 2 and exactly one line on stderr (file, key path, what was
expected, no traceback) for a bad one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "config"
UNSET_PASSWORD_ENV = "AFTERCARE_TEST_UNSET_PASSWORD"  # named by invalid-password-env-unset.yml
EXPECT = re.compile(r"# expect: (?P<key>\S.*?) \| (?P<message>\S.*)")


def expectation(path: Path) -> tuple[str, str]:
    m = EXPECT.fullmatch(path.read_text(encoding="utf-8").split("\n", 1)[0].rstrip())
    assert m, f"{path.name}: first line must be '# expect: <key path> | <message part>'"
    return m["key"], m["message"]


# A handful of mistakes of different kinds: schema, cross-key, secrets, YAML,
# plus two that are easy to mishandle: a time zone that names a folder of
# zones, and a file with an unrendered template placeholder.
INVALID_SAMPLE = [
    "invalid-database-timeout-int.yml",
    "invalid-duplicate-service.yml",
    "invalid-unknown-http-key.yml",
    "invalid-exchange-query-unknown-database.yml",
    "invalid-password-env-unset.yml",
    "invalid-yaml-syntax-unquoted-cron.yml",
    "invalid-empty.yml",
    "invalid-timezone-region-only.yml",
    "invalid-yaml-unrendered-template.yml",
]


def check_config(file: Path | str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != UNSET_PASSWORD_ENV}
    return subprocess.run(
        [sys.executable, "-m", "exporters.cli", "check-config", str(file)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("name", ["valid-minimal.yml", "valid-full.yml"])
def test_valid_config(name, tmp_path):
    file = FIXTURES / name
    result = check_config(file, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    assert str(file) in lines[0]
    assert "valid" in lines[0]


def test_valid_summary_counts(tmp_path):
    result = check_config(FIXTURES / "valid-full.yml", tmp_path)
    assert result.returncode == 0, result.stderr
    summary = result.stdout.strip()
    for part in (
        "2 system(s)",
        "2 databases",
        "4 services",
        "2 logs",
        "7 integrations",
        "2 exchange",
        "2 backups",
    ):
        assert part in summary, summary


@pytest.mark.parametrize("name", INVALID_SAMPLE, ids=lambda n: n[len("invalid-") : -len(".yml")])
def test_invalid_config(name, tmp_path):
    file = FIXTURES / name
    key, message = expectation(file)
    result = check_config(file, tmp_path)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert str(file) in lines[0]
    assert f"{key}: " in lines[0]
    assert message in lines[0]


def test_missing_file(tmp_path):
    file = tmp_path / "no-such-aftercare.yml"
    result = check_config(file, tmp_path)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert str(file) in lines[0]
    assert "cannot read the config file" in lines[0]
    assert "No such file or directory" in lines[0]
