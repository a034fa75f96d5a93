"""The host rules against a real node_exporter scraped by a real Prometheus: every rule
evaluates without error, and the recorded figures equal what the kernel reports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from devstack import REPO_ROOT
from devstack.node_exporter import NodeExporter
from devstack.prometheus import Prometheus
from devstack.waiting import wait_until

RULES = [REPO_ROOT / "rules" / "hosts.rules.yml", REPO_ROOT / "rules" / "hosts.alerts.yml"]
LABELS = {"system": "billing", "host": "app1", "role": "app", "job": "node"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    out = tmp_path_factory.mktemp("targets")
    with NodeExporter() as node:
        config = out / "aftercare.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "systems": [
                        {
                            "name": "billing",
                            "hosts": [{"name": "app1", "address": node.address, "role": "app"}],
                        }
                    ]
                }
            )
        )
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "exporters.cli",
                "targets",
                "--config.file",
                str(config),
                "--out",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO_ROOT,
        )
        assert done.returncode == 0, done.stderr
        job = {"job_name": "node", "file_sd_configs": [{"files": [str(out / "node.json")]}]}
        with Prometheus(scrape_configs=[job], rule_files=RULES) as prom:
            prom.wait_for_targets_up("node")
            yield node, prom


def one(prom: Prometheus, expr: str) -> tuple[dict, float]:
    """The single series of ``expr`` once the rules have produced it: labels and value."""
    [series] = wait_until(lambda: prom.query(expr), 30, what=expr)
    return series["metric"], float(series["value"][1])


def meminfo() -> dict[str, int]:
    rows = (line.split() for line in Path("/proc/meminfo").read_text().splitlines())
    return {row[0].rstrip(":"): int(row[1]) * 1024 for row in rows}


def test_every_host_rule_evaluates_without_error(stack):
    _, prom = stack
    wait_until(lambda: prom.query("aftercare:host_cpu_busy:ratio_rate5m"), 30)
    groups = {g["name"]: g for g in prom.rules()}
    assert set(groups) == {
        "aftercare-hosts-thresholds",
        "aftercare-hosts-recording",
        "aftercare-hosts",
    }
    for group in groups.values():
        for rule in group["rules"]:
            assert rule["health"] == "ok", (rule["name"], rule.get("lastError"))


def test_the_recorded_figures_match_the_kernel(stack):
    node, prom = stack
    labels, cpus = one(prom, "aftercare:host_cpus:count")
    assert labels == {"__name__": "aftercare:host_cpus:count", **LABELS, "instance": node.address}
    assert cpus == os.cpu_count()
    _, busy = one(prom, "aftercare:host_cpu_busy:ratio_rate5m")
    assert 0 <= busy <= 1
    _, per_core = one(prom, "aftercare:host_load5:per_core")
    assert per_core == pytest.approx(os.getloadavg()[1] / os.cpu_count(), abs=0.5)
    _, available = one(prom, "aftercare:host_memory:available_ratio")
    mem = meminfo()
    assert available == pytest.approx(mem["MemAvailable"] / mem["MemTotal"], abs=0.05)
    labels, used = one(prom, 'aftercare:host_filesystem:used_ratio{mountpoint="/"}')
    st = os.statvfs("/")
    assert used == pytest.approx(1 - st.f_bavail / st.f_blocks, abs=0.01)
    assert labels["fstype"] not in ("tmpfs", "overlay", "squashfs")
    _, inodes = one(prom, 'aftercare:host_filesystem:inodes_used_ratio{mountpoint="/"}')
    assert inodes == pytest.approx(1 - st.f_ffree / st.f_files, abs=0.01)
    excluded = prom.query('aftercare:host_filesystem:used_ratio{fstype=~"tmpfs|overlay|squashfs"}')
    assert excluded == []
    errors = wait_until(lambda: prom.query("aftercare:host_network_errors:rate5m"), 30)
    devices = {p.name for p in Path("/sys/class/net").iterdir()} - {"lo"}
    assert {s["metric"]["device"] for s in errors} <= devices
    assert all(float(s["value"][1]) >= 0 for s in errors)


def test_no_host_alert_fires_on_a_healthy_host(stack):
    _, prom = stack
    wait_until(lambda: prom.query("aftercare:host_cpu_busy:ratio_rate5m"), 30)
    noisy = {
        "AftercareHostCpuBusy",
        "AftercareHostLoadHigh",
        "AftercareHostDiskBusy",
        "AftercareHostCpuIowait",
        "AftercareHostDiskSlow",
    }  # the machine is shared
    active = {a["labels"]["alertname"] for a in prom.alerts()} - noisy
    # a container's clock may be left to the host's: the alert then says so, truthfully
    [sync] = prom.query("node_timex_sync_status")
    unsynchronised = {"AftercareHostClockNotSynchronised"} if sync["value"][1] == "0" else set()
    assert active == unsynchronised
