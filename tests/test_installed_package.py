"""The package as a new user installs it: the wheel, built once, installed non-editable by
deploy/install.sh into fresh venvs outside the source tree, run from a directory outside the
checkout with nothing importable from the tree."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import pytest

from devstack import REPO_ROOT
from devstack.exporter import ExporterProcess
from devstack.history import History, steps
from devstack.prometheus import Prometheus

pytestmark = pytest.mark.timeout(900)
TOOLS = ("aftercare-exporter", "aftercare-job", "aftercare-report")
INSTALL = REPO_ROOT / "deploy" / "install.sh"
UTC = dt.UTC
START = dt.datetime(2026, 10, 1, tzinfo=UTC).timestamp()
END = dt.datetime(2026, 10, 8, tzinfo=UTC).timestamp()
ZH_HEADINGS = ("月度健康评估报告", "总体评价", "可用性", "附录")

CONFIG = """
defaults: {timezone: UTC}
systems:
  - name: shop
    customer: Example Bank
    sla: {availability: 0.999}
    services:
      - {name: web, tcp: {address: "127.0.0.1:1"}}
"""
EXCHANGE_SQL_CONFIG = """
defaults: {{state_dir: {state}}}
systems:
  - name: billing
    databases:
      - {{name: erp, type: postgresql, dsn: "postgresql://monitor@127.0.0.1:5432/erp"}}
    exchange:
      - name: tax-upload
        schedule: "0 2 * * *"
        query: {{database: erp, sql: "SELECT now() AS last_run"}}
"""


def clean_env(venv: Path) -> dict[str, str]:
    """The environment of a user's shell: the venv's bin first, no PYTHONPATH, no other venv."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONSAFEPATH")
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


class Installed:
    """A fresh venv with the wheel installed, and a working directory outside the checkout."""

    def __init__(self, venv: Path, cwd: Path):
        self.venv, self.cwd = venv, cwd

    def run(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.venv / "bin" / argv[0]), *argv[1:]],
            cwd=self.cwd,
            env=clean_env(self.venv),
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def install(where: Path, extras: str, *how: str) -> Installed:
    """deploy/install.sh into a fresh venv under ``where``, run from a directory there."""
    venv, cwd = where / "venv", where / "work"
    cwd.mkdir()
    result = subprocess.run(
        ["bash", str(INSTALL), *how, "--extras", extras, str(venv)],
        cwd=cwd,
        env=clean_env(venv),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return Installed(venv, cwd)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("wheels")


@pytest.fixture(scope="module")
def full(wheels, tmp_path_factory) -> Installed:
    """aftercare[all], a report host and every exporter: the recipe builds the wheel (once)."""
    return install(tmp_path_factory.mktemp("installed-all"), "all", "--wheel-dir", str(wheels))


@pytest.fixture(scope="module")
def wheel(full, wheels) -> Path:
    (found,) = wheels.glob("aftercare-*.whl")
    return found


@pytest.fixture(scope="module")
def base(wheel, tmp_path_factory) -> Installed:
    """The base alone: an exporter-only host without drivers or the report."""
    return install(tmp_path_factory.mktemp("installed-base"), "", "--wheel", str(wheel))


def test_wheel_holds_what_is_read_at_run_time(wheel):
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "reportgen/render/templates/report.html.j2",
        "reportgen/render/templates/report.md.j2",
    } <= names
    assert not any(n.startswith(("tests/", "bench/", "dashboards/")) for n in names)


def test_imports_come_from_the_fresh_venv_not_the_tree(full):
    result = full.run(
        "python",
        "-c",
        "import exporters, reportgen, sys; "
        "print(exporters.__file__); print(reportgen.__file__); print(sys.path)",
    )
    assert result.returncode == 0, result.stderr
    files = result.stdout.splitlines()[:2]
    site = full.venv / "lib"
    for file in files:
        assert Path(file).resolve().is_relative_to(site.resolve()), file
        assert "site-packages" in file
    assert str(REPO_ROOT) not in result.stdout


def test_version_of_all_three_tools(full):
    version = full.run(
        "python", "-c", "import importlib.metadata as m; print(m.version('aftercare'))"
    ).stdout.strip()
    python = full.run("python", "-c", "import platform; print(platform.python_version())")
    for tool in TOOLS:
        result = full.run(tool, "--version")
        assert result.returncode == 0, (tool, result.stderr)
        assert result.stdout == f"{tool}, version {version} (python {python.stdout.strip()})\n"


def test_every_console_script_of_the_wheel_runs(full):
    """Each console script the installed package declares answers --version and --help."""
    listed = full.run(
        "python",
        "-c",
        "import importlib.metadata as m; "
        "print(' '.join(sorted(e.name for e in m.distribution('aftercare').entry_points "
        "if e.group == 'console_scripts')))",
    ).stdout.split()
    assert {"aftercare-desk", "aftercare-notify", "aftercare-silences", *TOOLS} <= set(listed)
    for tool in listed:
        for flag in ("--version", "--help"):
            result = full.run(tool, flag)
            assert result.returncode == 0, (tool, flag, result.stderr)
            assert result.stdout.startswith(
                f"{tool}, version " if flag == "--version" else "usage: "
            )


def test_help_of_all_three_tools_exits_0(full):
    for argv in (
        ("aftercare-exporter", "--help"),
        ("aftercare-job", "--help"),
        ("aftercare-job", "run", "--help"),
        ("aftercare-report", "--help"),
    ):
        result = full.run(*argv)
        assert result.returncode == 0, (argv, result.stderr)
        assert result.stdout.startswith("usage: ")
        assert "--config.file" in result.stdout and "aftercare.yml" in result.stdout
    assert "Exit codes: 0 ok, 2" in full.run("aftercare-report", "--help").stdout


def test_check_config_of_the_example(full):
    example = full.cwd / "aftercare.yml"
    example.write_text((REPO_ROOT / "examples" / "aftercare.yml").read_text())
    result = full.run("aftercare-exporter", "check-config")  # the default file, in the cwd
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("aftercare.yml: valid: 1 system(s)")


class InstalledExporter(ExporterProcess):
    """The exporter started from the installed console script, in a directory outside the tree."""

    def __init__(self, installed: Installed, area: str, config_file: Path):
        self.installed = installed
        super().__init__(area, config_file)

    def command(self) -> list[str]:
        return [
            str(self.installed.venv / "bin" / "aftercare-exporter"),
            self.area,
            "--config.file",
            str(self.config_file),
            "--web.listen-address",
            self.address,
        ]

    def spawn(self) -> subprocess.Popen:
        env = {**clean_env(self.installed.venv), **self.env}
        return subprocess.Popen(
            self.command(),
            stdout=self.stdout_path.open("wb"),
            stderr=self.stderr_path.open("wb"),
            env=env,
            cwd=self.installed.cwd,
            start_new_session=True,
        )


def test_exporter_from_the_wheel_answers_metrics(full):
    config = full.cwd / "services.yml"
    config.write_text(CONFIG)
    with InstalledExporter(full, "services", config) as exporter:
        text = exporter.metrics_text()
        version = full.run("aftercare-exporter", "--version").stdout.split()[2]
        python = full.run("python", "-c", "import platform; print(platform.python_version())")
        python = python.stdout.strip()
        assert f'aftercare_build_info{{python="{python}",version="{version}"}} 1.0' in text
        assert 'aftercare_service_up{service="web",system="shop"} 0.0' in text
        promtool = subprocess.run(
            ["promtool", "check", "metrics"], input=text, capture_output=True, text=True
        )
        assert promtool.returncode == 0, promtool.stdout + promtool.stderr


@pytest.fixture(scope="module")
def small_prometheus():
    """A week of one service's history, backfilled into a real Prometheus."""
    history = History()
    minutes = steps(START, END, 60)
    down = (START + 2 * 86400, START + 2 * 86400 + 1800)
    history.add(
        "aftercare_service_up",
        {"system": "shop", "service": "web"},
        [(t, 0.0 if down[0] <= t < down[1] else 1.0) for t in minutes],
    )
    history.add(
        "up",
        {"job": "aftercare-services", "instance": "127.0.0.1:9852"},
        [(t, 1.0) for t in minutes],
    )
    prom = Prometheus(extra_args=["--storage.tsdb.retention.time=3650d"])
    try:
        history.backfill(str(prom.storage_path))
        prom.start()
        yield prom
    finally:
        prom.close()


def test_report_from_the_wheel_writes_every_format(full, small_prometheus):
    (full.cwd / "aftercare.yml").write_text(CONFIG)
    for lang in ("zh", "en"):
        out = full.cwd / f"report-{lang}"
        result = full.run(
            "aftercare-report",
            "--prometheus",
            small_prometheus.url,
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-07",
            "--lang",
            lang,
            "--format",
            "html,md,json,pdf",
            "--out",
            str(out),
            "--quiet",
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        files = {p.suffix: p for p in out.iterdir()}
        assert sorted(files) == [".html", ".json", ".md", ".pdf"]
        assert all(p.stat().st_size > 0 for p in files.values())
        report = json.loads(files[".json"].read_text())
        (system,) = report["systems"]
        assert system["name"] == "shop"
        pdf = files[".pdf"]
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
        pages = int(
            next(line.split()[-1] for line in info.stdout.splitlines() if line.startswith("Pages:"))
        )
        assert pages >= 1
        text = subprocess.run(
            ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        if lang == "zh":
            for heading in ZH_HEADINGS:
                assert heading in text, heading
        else:
            assert "Monthly health assessment" in text


def test_missing_extras_are_one_line_and_exit_2(base):
    (base.cwd / "aftercare.yml").write_text(CONFIG)
    cases = {
        ("aftercare-exporter", "database"): "pip install 'aftercare[database]'",
        ("aftercare-exporter", "integrations"): "pip install 'aftercare[integrations]'",
        ("aftercare-exporter", "all"): "pip install 'aftercare[database,integrations]'",
        (
            "aftercare-report",
            "--prometheus",
            "http://127.0.0.1:1",
        ): "pip install 'aftercare[report]'",
    }
    for argv, command in cases.items():
        result = base.run(*argv)
        assert result.returncode == 2, (argv, result.stderr)
        assert result.stdout == ""
        assert result.stderr.count("\n") == 1 and command in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    sql = base.cwd / "exchange.yml"
    sql.write_text(EXCHANGE_SQL_CONFIG.format(state=base.cwd / "state"))
    result = base.run("aftercare-exporter", "exchange", "--config.file", str(sql))
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        "aftercare-exporter: the exchange exporter's SQL-checked jobs need "
        "the 'database' extra (psycopg2, pymysql not installed): "
        "pip install 'aftercare[database]'\n"
    )
    for tool in TOOLS:
        assert base.run(tool, "--version").returncode == 0


def test_exporter_only_host_serves_without_extras(base):
    (base.cwd / "aftercare.yml").write_text(CONFIG)
    with InstalledExporter(base, "services", base.cwd / "aftercare.yml") as exporter:
        assert 'aftercare_service_up{service="web",system="shop"} 0.0' in exporter.metrics_text()
    freeze = base.run("python", "-m", "pip", "freeze").stdout.lower()
    for heavy in ("matplotlib", "numpy", "weasyprint", "grafanalib", "psycopg2", "requests"):
        assert heavy not in freeze, heavy


@pytest.fixture(scope="module")
def report_host(wheel, tmp_path_factory) -> Installed:
    """aftercare[report]: html, md and json, without WeasyPrint."""
    return install(tmp_path_factory.mktemp("installed-report"), "report", "--wheel", str(wheel))


def test_pdf_without_its_extra_is_one_line_and_exit_2(report_host, small_prometheus):
    (report_host.cwd / "aftercare.yml").write_text(CONFIG)
    argv = (
        "aftercare-report",
        "--prometheus",
        small_prometheus.url,
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-07",
        "--quiet",
        "--out",
        str(report_host.cwd / "out"),
    )
    result = report_host.run(*argv, "--format", "html,pdf")
    assert result.returncode == 2
    assert result.stderr == (
        "aftercare-report: --format pdf needs the 'pdf' extra (weasyprint "
        "not installed): pip install 'aftercare[pdf]'\n"
    )
    assert not (report_host.cwd / "out").exists()
    result = report_host.run(*argv, "--format", "html,md,json", timeout=300)
    assert result.returncode == 0, result.stderr
    assert sorted(p.suffix for p in (report_host.cwd / "out").iterdir()) == [
        ".html",
        ".json",
        ".md",
    ]
