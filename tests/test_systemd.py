"""deploy/systemd/: the units pass `systemd-analyze verify` (no warning), their hardening
passes `systemd-analyze security --offline`, the timer fires on the first day of each month at
02:00 Asia/Shanghai, and the command lines they run are accepted by the real programs."""

from __future__ import annotations

import datetime as dt
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from devstack import REPO_ROOT
from devstack.ports import free_port

UNITS = REPO_ROOT / "deploy" / "systemd"
AREAS = ("database", "services", "integrations", "exchange", "backups", "all")
INSTALL_BIN = "/opt/aftercare/bin/"
VENV_BIN = str(Path(sys.executable).parent) + "/"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The units as installed, with the venv standing in for /opt/aftercare (verify checks
    that every ExecStart binary exists); the exporter template instantiated for each area."""
    assert shutil.which("systemd-analyze"), "systemd-analyze (Debian package systemd) is missing"
    out = tmp_path_factory.mktemp("units")
    template = (UNITS / "aftercare-exporter@.service").read_text().replace(INSTALL_BIN, VENV_BIN)
    for area in AREAS:
        (out / f"aftercare-exporter@{area}.service").write_text(template)
    for name in ("aftercare-report.service", "aftercare-report.timer"):
        (out / name).write_text((UNITS / name).read_text().replace(INSTALL_BIN, VENV_BIN))
    return out


def analyze(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["systemd-analyze", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"TZ": "UTC", "PATH": "/usr/bin:/bin", "SYSTEMD_COLORS": "0"},
    )


def unit_value(text: str, key: str) -> str:
    """A key's value, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return re.search(rf"^{key}=(.*)$", joined, re.M).group(1).strip()


def test_every_unit_verifies_without_a_warning(installed):
    result = analyze("verify", "--man=no", *sorted(str(p) for p in installed.iterdir()))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "" and result.stdout.strip() == ""


def test_verify_does_report_a_mistyped_option(installed, tmp_path):
    """The check above can fail: a typo in a hardening option is reported."""
    bad = tmp_path / "aftercare-exporter@database.service"
    bad.write_text((installed / bad.name).read_text().replace("ProtectSystem=", "ProtectSytem="))
    assert "Unknown key 'ProtectSytem'" in analyze("verify", "--man=no", str(bad)).stderr


@pytest.mark.parametrize(
    "unit", ["aftercare-exporter@database.service", "aftercare-report.service"]
)
def test_hardening_exposure_is_low(installed, unit):
    text = (installed / unit).read_text()
    for option in (
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "User=aftercare",
        "CapabilityBoundingSet=\n",
        "PrivateTmp=yes",
    ):
        assert option in text, option
    result = analyze(
        "security", "--offline=true", "--man=no", "--threshold=30", str(installed / unit)
    )
    assert result.returncode == 0, result.stdout[-1500:] + result.stderr
    exposure = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout).group(1))
    assert exposure <= 2.5


def test_the_timer_fires_on_the_first_day_at_two_in_shanghai():
    spec = unit_value((UNITS / "aftercare-report.timer").read_text(), "OnCalendar")
    result = analyze("calendar", "--iterations=13", spec)
    assert result.returncode == 0, result.stderr
    elapses = re.findall(
        r"(?:Next elapse|Iter\. #\d+): \w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", result.stdout
    )
    assert len(elapses) == 13
    months = set()
    for text in elapses:
        when = (
            dt.datetime.fromisoformat(text)
            .replace(tzinfo=dt.UTC)
            .astimezone(ZoneInfo("Asia/Shanghai"))
        )
        assert (when.day, when.hour, when.minute) == (1, 2, 0), when
        months.add((when.year, when.month))
    assert len(months) == 13  # once a month, every month
    assert unit_value((UNITS / "aftercare-report.timer").read_text(), "Persistent") == "true"


def test_the_exporter_unit_runs_the_contract_command_line(tmp_path):
    text = (UNITS / "aftercare-exporter@.service").read_text()
    argv = shlex.split(unit_value(text, "ExecStart").replace("$AFTERCARE_EXPORTER_ARGS", ""))
    assert argv == [
        INSTALL_BIN + "aftercare-exporter",
        "%i",
        "--config.file",
        "/etc/aftercare/aftercare.yml",
    ]
    pre = shlex.split(unit_value(text, "ExecStartPre"))
    assert pre[1:] == ["check-config", "/etc/aftercare/aftercare.yml"]
    # the pre-check really is the config check: exit 0 on the example, 2 on a bad file
    example = str(REPO_ROOT / "examples" / "aftercare.yml")
    run = [VENV_BIN + "aftercare-exporter", "check-config"]
    assert subprocess.run([*run, example], capture_output=True, timeout=60).returncode == 0
    bad = tmp_path / "bad.yml"
    bad.write_text("systems: [{name: x, servics: []}]\n")
    assert subprocess.run([*run, str(bad)], capture_output=True, timeout=60).returncode == 2


def test_the_report_unit_flags_are_accepted(tmp_path):
    """The service's own command line against a closed port: exit 3 (unreachable), not 2
    (bad flags)."""
    text = (UNITS / "aftercare-report.service").read_text()
    argv = shlex.split(unit_value(text, "ExecStart").replace("$AFTERCARE_REPORT_ARGS", ""))
    assert argv[0] == INSTALL_BIN + "aftercare-report"
    flags = [a for a in argv[1:] if a != "--quiet"]
    args = dict(zip(flags[::2], flags[1::2], strict=True))
    assert args["--format"] == "html,pdf,json" and args["--lang"] == "zh"
    args["--prometheus"] = f"http://127.0.0.1:{free_port()}"
    args["--config.file"] = str(REPO_ROOT / "examples" / "aftercare.yml")
    args["--out"] = str(tmp_path / "reports")
    result = subprocess.run(
        [
            VENV_BIN + "aftercare-report",
            *[x for kv in args.items() for x in kv],
            "--quiet",
            "--retries",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3, result.stderr
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").iterdir())
