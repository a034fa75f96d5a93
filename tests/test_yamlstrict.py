"""The one strict YAML reader, as aftercare.yml and the web config both see it.

Every document YAML itself cannot make sense of (a complex key, a value its tag
cannot hold, a key given twice, nesting too deep) is one ConfigError naming the
file, never another exception; the exporter started with such a web config
exits 2 with one line.  Anchors, aliases and ``<<`` merge keys keep working.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import bcrypt
import pytest

from exporters.config import ConfigError, load_config
from exporters.webconfig import load_web_config

FIXTURES = Path(__file__).parent / "fixtures" / "config"
SECRET = "s3cret-in-the-wrong-place"
LOADERS = {"aftercare.yml": load_config, "web.yml": load_web_config}

BAD_YAML = [
    # (id, document, words expected in the one-line message)
    ("complex key list", "? [a, b]: 1\n", "found a mapping or list used as a key"),
    ("complex key mapping", "? {a: 1}\n: 2\n", "found a mapping or list used as a key"),
    (
        "complex key nested",
        "x:\n  ? [a, b]\n  : 1\n",
        "line 2, column 5: found a mapping or list used as a key",
    ),
    (
        "month 13",
        "x: 2024-13-01\n",
        "line 1, column 4: found a value that is not a valid timestamp",
    ),
    ("int tag on a word", f"x: !!int {SECRET}\n", "found a value that is not a valid int"),
    ("float tag on a word", f"x: !!float {SECRET}\n", "found a value that is not a valid float"),
    ("bool tag on a word", f"x: !!bool {SECRET}\n", "found a value that is not a valid bool"),
    (
        "timestamp tag on a word",
        f"x: !!timestamp {SECRET}\n",
        "found a value that is not a valid timestamp",
    ),
    ("duplicate key", "x: 1\nx: 2\n", "line 2: key 'x' appears twice in one mapping"),
    (
        "duplicate key that may be a secret",
        f"postgresql://u:{SECRET}@h/: 1\npostgresql://u:{SECRET}@h/: 2\n",
        "appears twice",
    ),
    ("nested too deeply", "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    (
        "python tag",
        "x: !!python/object/apply:os.system [true]\n",
        "could not determine a constructor",
    ),
]


@pytest.mark.parametrize("kind", sorted(LOADERS))
@pytest.mark.parametrize("text, words", [b[1:] for b in BAD_YAML], ids=[b[0] for b in BAD_YAML])
def test_bad_yaml_is_one_config_error(tmp_path, kind, text, words):
    file = tmp_path / kind
    file.write_text(text)
    with pytest.raises(ConfigError) as info:
        LOADERS[kind](str(file))
    err = info.value
    assert (err.path, err.file) == ((), str(file))
    assert str(err).startswith(f"{file}: (top level): "), str(err)
    assert words in str(err)
    assert "\n" not in str(err) and SECRET not in str(err) and SECRET not in repr(err)


def test_anchors_aliases_and_merge_keys_work_in_both(tmp_path):
    config = tmp_path / "aftercare.yml"
    config.write_text(
        """
systems:
  - name: billing
    services:
      - {name: web, http: &check {url: "http://127.0.0.1:8080/health", method: HEAD}}
      - {name: api, http: {<<: *check, method: GET}}
""",
        encoding="utf-8",
    )
    web, api = load_config(str(config)).systems[0].services
    assert (web.http.url, web.http.method) == ("http://127.0.0.1:8080/health", "HEAD")
    assert (api.http.url, api.http.method) == ("http://127.0.0.1:8080/health", "GET")

    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
    webyml = tmp_path / "web.yml"
    webyml.write_text(f"basic_auth_users:\n  alice: &h '{hashed}'\n  bob: *h\n", encoding="utf-8")
    assert load_web_config(str(webyml)).describe() == "TLS off, basic auth 2 users"


def run_exporter(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "exporters.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_line_exit_2(result: subprocess.CompletedProcess, file: Path, words: str) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert f"{file}: (top level): line 1, column 3: {words}" in lines[0], lines[0]


def test_exporter_with_complex_key_in_web_config_exits_2(tmp_path):
    web = tmp_path / "web.yml"
    web.write_text("? [a, b]: 1\n", encoding="utf-8")
    result = run_exporter(
        "services",
        "--config.file",
        str(FIXTURES / "valid-minimal.yml"),
        "--web.config.file",
        str(web),
        "--web.listen-address",
        "127.0.0.1:0",
        cwd=tmp_path,
    )
    assert_one_line_exit_2(result, web, "found a mapping or list used as a key")
    assert result.stderr.startswith("aftercare-exporter: invalid config: ")


def test_check_config_with_complex_key_exits_2(tmp_path):
    config = tmp_path / "aftercare.yml"
    config.write_text("? [a, b]: 1\n", encoding="utf-8")
    result = run_exporter("check-config", str(config), cwd=tmp_path)
    assert_one_line_exit_2(result, config, "found a mapping or list used as a key")
