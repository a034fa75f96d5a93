"""hosts: in aftercare.yml and `aftercare-exporter targets`: one config drives every scrape
target, read by a real Prometheus through file_sd from a real node_exporter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from devstack import REPO_ROOT
from devstack.node_exporter import NodeExporter
from devstack.prometheus import Prometheus
from devstack.waiting import wait_until
from exporters.config import ConfigError, validate

COMPOSE_TARGETS = REPO_ROOT / "deploy" / "prometheus" / "targets"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "exporters.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )


def system_with_hosts(hosts) -> dict:
    return {"systems": [{"name": "billing", "hosts": hosts}]}


def test_hosts_are_read_with_role_and_labels():
    config = validate(
        system_with_hosts(
            [
                {
                    "name": "app1",
                    "address": "10.0.0.5:9100",
                    "role": "app",
                    "labels": {"rack": "r1"},
                },
                {"name": "db1", "address": "[::1]:9100"},
            ]
        )
    )
    app1, db1 = config.systems[0].hosts
    assert (app1.name, app1.address, app1.role, app1.labels) == (
        "app1",
        "10.0.0.5:9100",
        "app",
        {"rack": "r1"},
    )
    assert (db1.role, db1.labels) == ("other", {})


@pytest.mark.parametrize(
    "host, key, expected",
    [
        ({"name": "app1", "address": "app1"}, "systems[0].hosts[0].address", "expected host:port"),
        (
            {"name": "app1", "address": "app1:99999"},
            "systems[0].hosts[0].address",
            "expected host:port",
        ),
        (
            {"name": "app1", "address": "a:1", "role": "cache"},
            "systems[0].hosts[0].role",
            "expected one of",
        ),
        (
            {"name": "app1", "address": "a:1", "labels": {"system": "x"}},
            "systems[0].hosts[0].labels.system",
            "reserved label",
        ),
        (
            {"name": "app1", "address": "a:1", "labels": {"bad-name": "x"}},
            "systems[0].hosts[0].labels.bad-name",
            "a Prometheus label name",
        ),
        (
            {"name": "app1", "address": "a:1", "port": 9100},
            "systems[0].hosts[0].port",
            "unknown key",
        ),
    ],
)
def test_a_bad_host_is_one_config_error(host, key, expected):
    with pytest.raises(ConfigError) as err:
        validate(system_with_hosts([host]))
    assert err.value.key == key
    assert expected in err.value.message


def test_duplicate_host_names_are_refused():
    with pytest.raises(ConfigError) as err:
        validate(
            system_with_hosts([{"name": "a", "address": "a:1"}, {"name": "a", "address": "b:1"}])
        )
    assert err.value.key.startswith("systems[0].hosts[1]")


def test_targets_writes_node_and_exporter_files(tmp_path: Path):
    config = tmp_path / "aftercare.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "systems": [
                    {
                        "name": "billing",
                        "hosts": [
                            {
                                "name": "app1",
                                "address": "app1:9100",
                                "role": "app",
                                "labels": {"rack": "r1"},
                            }
                        ],
                    },
                    {"name": "hr", "hosts": [{"name": "db1", "address": "db1:9100", "role": "db"}]},
                    {"name": "empty"},
                ]
            }
        )
    )
    out = tmp_path / "targets"
    out.mkdir()
    done = run_cli("targets", "--config.file", str(config), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{out}: 2 host(s) in node.json, 5 exporter target file(s)"
    assert json.loads((out / "node.json").read_text()) == [
        {
            "targets": ["app1:9100"],
            "labels": {"rack": "r1", "system": "billing", "host": "app1", "role": "app"},
        },
        {"targets": ["db1:9100"], "labels": {"system": "hr", "host": "db1", "role": "db"}},
    ]
    assert sorted(p.name for p in out.iterdir()) == [
        "aftercare-backups.json",
        "aftercare-database.json",
        "aftercare-exchange.json",
        "aftercare-integrations.json",
        "aftercare-services.json",
        "node.json",
    ]
    assert json.loads((out / "aftercare-services.json").read_text()) == [
        {"targets": ["localhost:9852"], "labels": {}}
    ]
    done = run_cli(
        "targets",
        "--config.file",
        str(config),
        "--out",
        str(out),
        "--exporters",
        "all",
        "--exporter-address",
        "mon1:{port}",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "aftercare-all.json").read_text()) == [
        {"targets": ["mon1:9850"], "labels": {}}
    ]


def test_targets_bad_input_is_one_line_and_exit_2(tmp_path: Path):
    config = tmp_path / "aftercare.yml"
    config.write_text("systems:\n  - name: s\n    hosts:\n      - {name: a, address: nope}\n")
    done = run_cli("targets", "--config.file", str(config), "--out", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "systems[0].hosts[0].address: expected host:port" in done.stderr
    assert not (tmp_path / "node.json").exists()
    config.write_text("systems:\n  - name: s\n")
    done = run_cli("targets", "--config.file", str(config), "--out", str(tmp_path / "missing"))
    assert done.returncode == 2 and done.stderr.strip().endswith("not a directory")


def test_the_committed_compose_targets_are_current(tmp_path: Path):
    done = run_cli(
        "targets",
        "--config.file",
        "deploy/compose/aftercare.yml",
        "--out",
        str(tmp_path),
        "--exporter-address",
        "exporter-{exporter}:{port}",
    )
    assert done.returncode == 0, done.stderr
    for path in tmp_path.iterdir():
        assert (COMPOSE_TARGETS / path.name).read_text() == path.read_text(), path.name
    jobs = yaml.safe_load((REPO_ROOT / "deploy/prometheus/prometheus.yml").read_text())
    sd = {
        c["job_name"]: c["file_sd_configs"][0]["files"]
        for c in jobs["scrape_configs"]
        if "file_sd_configs" in c
    }
    assert sd == {p.stem: [f"targets/{p.name}"] for p in sorted(tmp_path.iterdir())}


def test_prometheus_scrapes_node_exporter_from_the_generated_file(tmp_path: Path):
    with NodeExporter() as node:
        config = tmp_path / "aftercare.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "systems": [
                        {
                            "name": "billing",
                            "hosts": [
                                {
                                    "name": "app1",
                                    "address": node.address,
                                    "role": "app",
                                    "labels": {"rack": "r1"},
                                }
                            ],
                        }
                    ]
                }
            )
        )
        done = run_cli("targets", "--config.file", str(config), "--out", str(tmp_path))
        assert done.returncode == 0, done.stderr
        job = {
            "job_name": "node",
            "file_sd_configs": [{"files": [str(tmp_path / "node.json")], "refresh_interval": "1s"}],
        }
        with Prometheus(scrape_configs=[job]) as prom:
            [target] = prom.wait_for_targets_up("node")
            assert target["labels"] == {
                "instance": node.address,
                "job": "node",
                "system": "billing",
                "host": "app1",
                "role": "app",
                "rack": "r1",
            }
            [series] = wait_until(lambda: prom.query("node_boot_time_seconds"), 20)
            assert series["metric"]["host"] == "app1"
            assert series["metric"]["system"] == "billing"
