"""aftercare-notify as deployed: its systemd unit, its compose services, the exporter
conventions (flags, /-/healthy, /-/ready, SIGHUP reload, web config, promtool-clean
metrics) and the demo-style console channel."""

from __future__ import annotations

import platform
import re
import shlex
import signal
import subprocess
import sys
from importlib.metadata import version as package_version
from pathlib import Path

import bcrypt
import requests
import yaml

from devstack import REPO_ROOT
from devstack.notify import NotifyProcess
from devstack.waiting import wait_until

UNIT = REPO_ROOT / "deploy" / "systemd" / "aftercare-notify.service"
VENV_BIN = str(Path(sys.executable).parent) + "/"


def analyze(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["systemd-analyze", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"TZ": "UTC", "PATH": "/usr/bin:/bin", "SYSTEMD_COLORS": "0"},
    )


def test_the_unit_verifies_and_is_hardened(tmp_path):
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/opt/aftercare/bin/", VENV_BIN))
    result = analyze("verify", "--man=no", str(unit))
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    result = analyze("security", "--offline=true", "--man=no", "--threshold=30", str(unit))
    exposure = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout).group(1))
    assert exposure <= 2.5


def test_the_unit_command_line_is_the_contract():
    text = re.sub(r"\\\n\s*", " ", UNIT.read_text())
    argv = shlex.split(
        re.search(r"^ExecStart=(.*)$", text, re.M).group(1).replace("$AFTERCARE_NOTIFY_ARGS", "")
    )
    assert argv == [
        "/opt/aftercare/bin/aftercare-notify",
        "--config.file",
        "/etc/aftercare/aftercare.yml",
        "--web.listen-address",
        "127.0.0.1:9099",
    ]
    assert "ExecReload=/bin/kill -HUP $MAINPID" in text


def test_compose_runs_it_beside_each_alertmanager_with_its_own_spool():
    services = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())["services"]
    for i in (1, 2):
        notify = services[f"notify-{i}"]
        assert notify["entrypoint"] == ["aftercare-notify"]
        assert notify["network_mode"] == f"service:alertmanager-{i}"
        assert f"notify-{i}-state:/var/lib/aftercare" in notify["volumes"]
    config = yaml.safe_load((REPO_ROOT / "deploy/compose/aftercare.yml").read_text())
    channels = {c["name"] for c in config["notify"]["channels"]}
    am = (REPO_ROOT / "alertmanager" / "alertmanager.yml").read_text()
    assert channels == set(re.findall(r"127\.0\.0\.1:9099/notify/(\w+)", am))


def config(tmp_path, *channels: str) -> Path:
    path = tmp_path / "aftercare.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "defaults": {"state_dir": str(tmp_path / "state")},
                "systems": [{"name": "demo"}],
                "notify": {"channels": [{"name": c, "type": "console"} for c in channels]},
            }
        )
    )
    return path


def test_endpoints_reload_and_clean_metrics(tmp_path):
    path = config(tmp_path, "oncall")
    with NotifyProcess(path) as proc:
        assert requests.get(proc.url + "/-/healthy", timeout=5).status_code == 200
        assert requests.get(proc.url + "/-/ready", timeout=5).status_code == 200
        assert proc.post("ticket", {"x": 1}).status_code == 404
        config(tmp_path, "oncall", "ticket")
        proc.process.send_signal(signal.SIGHUP)
        wait_until(lambda: "channels=oncall,ticket" in proc.stderr_text(), 10, what="the reload")
        body = {
            "status": "firing",
            "groupKey": "k",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": "X", "severity": "warning"},
                    "annotations": {"summary": "demo page"},
                    "startsAt": "2026-01-05T01:02:03Z",
                }
            ],
        }
        assert proc.post("ticket", body).status_code == 200
        wait_until(lambda: "[告警] demo page" in proc.stdout_text(), 10, what="the printed page")
        wait_until(
            lambda: (
                proc.metric("aftercare_notify_messages_total", channel="ticket", result="delivered")
                == 1
            ),
            10,
            what="the count",
        )
        text = proc.metrics_text()
        for name in (
            "aftercare_notify_messages_total",
            "aftercare_notify_queue_length",
            "aftercare_notify_oldest_queued_seconds",
        ):
            assert f"# TYPE {name.removesuffix('_total')}" in text, name
        check = subprocess.run(
            ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
        )
        assert check.returncode == 0 and not check.stdout.strip() and not check.stderr.strip(), (
            check.stdout + check.stderr
        )
        version = subprocess.run(
            [sys.executable, "-m", "exporters.notify.cli", "--version"],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            timeout=60,
        )
        # the Prometheus tools' form, like aftercare-exporter's
        expected = (
            f"aftercare-notify, version {package_version('aftercare')} "
            f"(python {platform.python_version()})"
        )
        assert version.stdout.strip() == expected


def test_web_config_basic_auth_guards_every_endpoint(tmp_path):
    web = tmp_path / "web.yml"
    web.write_text(
        yaml.safe_dump(
            {
                "basic_auth_users": {
                    "alertmanager": bcrypt.hashpw(b"hook-Pa55", bcrypt.gensalt(4)).decode()
                }
            }
        )
    )
    proc = NotifyProcess(config(tmp_path, "oncall"), extra=("--web.config.file", str(web)))
    proc.ready_args = lambda: {"auth": ("alertmanager", "hook-Pa55")}
    with proc:
        body = {"status": "firing", "alerts": [{"labels": {"alertname": "X"}}]}
        assert proc.post("oncall", body).status_code == 401
        assert requests.get(proc.url + "/metrics", timeout=5).status_code == 401
        assert proc.post("oncall", body, auth=("alertmanager", "hook-Pa55")).status_code == 200
