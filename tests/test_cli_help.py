"""The three tools' --version, --help and flag defaults, run as real subprocesses."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata

import pytest

from devstack import REPO_ROOT
from exporters.jobcli import build_parser as job_parser
from exporters.serve import build_parser as exporter_parser
from reportgen.cli import parser as report_parser

TOOLS = {
    "aftercare-exporter": "exporters.cli",
    "aftercare-job": "exporters.jobcli",
    "aftercare-report": "reportgen.entry",
}
PARSERS = {
    "aftercare-exporter": exporter_parser,
    "aftercare-job": job_parser,
    "aftercare-report": report_parser,
}


def run(module: str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_version_is_one_prometheus_style_line(tool):
    result = run(TOOLS[tool], "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"{tool}, version {metadata.version('aftercare')} (python {platform.python_version()})\n"
    )


@pytest.mark.parametrize("argv", [("--help",), ("run", "--help"), ("-h",), ("run", "-h")])
def test_job_help_exits_0_with_the_usage(argv):
    result = run("exporters.jobcli", *argv)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: aftercare-job run --config.file FILE --job NAME")
    assert "--records-file" in result.stdout and result.stderr == ""


def test_job_without_a_command_is_still_a_usage_error():
    result = run("exporters.jobcli", "run", "--job", "x")
    assert result.returncode == 2
    assert "the job's command goes after '--'" in result.stderr


@pytest.mark.parametrize("tool", sorted(PARSERS))
def test_every_flag_says_its_default(tool):
    parser = PARSERS[tool]()
    for action in parser._actions:
        if not action.option_strings or action.dest in ("help", "version"):
            continue
        text = action.help % {"default": action.default, "choices": action.choices}
        assert "default" in text or "required" in text, (tool, action.option_strings)


@pytest.mark.parametrize("tool", sorted(PARSERS))
def test_config_file_defaults_to_aftercare_yml(tool):
    (action,) = [a for a in PARSERS[tool]()._actions if "--config.file" in a.option_strings]
    assert action.default == "aftercare.yml" and not action.required


def test_report_help_lists_the_exit_codes():
    result = run("reportgen.entry", "--help")
    assert result.returncode == 0
    assert (
        "Exit codes: 0 ok, 2 bad arguments or config, 3 Prometheus unreachable or a query failed."
    ) in " ".join(result.stdout.split())


def test_check_config_reads_aftercare_yml_by_default(tmp_path):
    (tmp_path / "aftercare.yml").write_text((REPO_ROOT / "examples" / "aftercare.yml").read_text())
    result = subprocess.run(
        [sys.executable, "-m", "exporters.cli", "check-config"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("aftercare.yml: valid: 1 system(s)")


def test_build_info_on_a_served_exporter(exporter_factory, tmp_path):
    config = tmp_path / "aftercare.yml"
    config.write_text(
        f"defaults: {{state_dir: {tmp_path / 'state'}}}\n"
        "systems:\n  - name: shop\n    backups:\n"
        f"      - {{name: nightly, path: '{tmp_path}/*.dump'}}\n"
    )
    exporter = exporter_factory("backups", config)
    samples = [s for s in exporter.samples() if s[0] == "aftercare_build_info"]
    assert samples == [
        (
            "aftercare_build_info",
            {"version": metadata.version("aftercare"), "python": platform.python_version()},
            1.0,
        )
    ]
