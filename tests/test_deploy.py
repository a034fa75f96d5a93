"""docker-compose.yml, the files it mounts and the Prometheus configs, validated offline
(there is no Docker engine here): the compose-spec JSON schema, Debian's docker-compose 1.29
`config -q`, mounts, ports, pinned images, promtool, and the pager bridge run for real."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import requests
import yaml

from devstack import REPO_ROOT
from devstack.ports import free_port
from devstack.waiting import wait_until

PROM_DIR = REPO_ROOT / "deploy" / "prometheus"
EXPORTER_PORTS = {
    "database": 9851,
    "services": 9852,
    "integrations": 9853,
    "exchange": 9854,
    "backups": 9855,
}


def compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


def bind_mounts(service: dict) -> list[tuple[str, str]]:
    """(host source, container target) of each bind mount (named volumes are left out)."""
    out = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            out.append((source, target))
    return out


def test_the_compose_file_passes_the_compose_spec_schema():
    tool = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [
            str(tool),
            "--builtin-schema",
            "vendor.compose-spec",
            str(REPO_ROOT / "docker-compose.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_debian_docker_compose_accepts_it_in_every_profile(tmp_path):
    assert shutil.which("docker-compose"), "Debian package docker-compose is not installed"
    for env in (
        {},
        {"COMPOSE_PROFILES": "demo,scale", "AFTERCARE_PROMETHEUS_CONFIG": "prometheus-scale.yml"},
    ):
        result = subprocess.run(
            ["docker-compose", "-f", str(REPO_ROOT / "docker-compose.yml"), "config", "-q"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
            env={**os.environ, **env},
        )
        assert result.returncode == 0, result.stdout + result.stderr
    result = subprocess.run(
        ["docker-compose", "-f", str(REPO_ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "AFTERCARE_PROMETHEUS_CONFIG": "prometheus-scale.yml"},
    )
    resolved = yaml.safe_load(result.stdout)
    assert (
        "--config.file=/etc/prometheus/prometheus-scale.yml"
        in resolved["services"]["prometheus"]["command"]
    )


def test_every_bind_mount_and_build_context_exists():
    services = compose()["services"]
    for name, service in services.items():
        if "build" in service:
            assert (REPO_ROOT / service["build"] / "Dockerfile").is_file(), name
        for source, _ in bind_mounts(service):
            assert (REPO_ROOT / source).exists(), f"{name}: {source} does not exist"


def test_grafana_is_provisioned_from_dashboards():
    grafana = compose()["services"]["grafana"]
    mounts = dict((target, source) for source, target in bind_mounts(grafana))
    assert mounts == {
        "/etc/grafana/provisioning/datasources": "./dashboards/provisioning/datasources",
        "/etc/grafana/provisioning/dashboards": "./dashboards/provisioning/dashboards",
        "/var/lib/grafana/dashboards": "./dashboards/generated",
    }
    provider = yaml.safe_load(
        (REPO_ROOT / "dashboards/provisioning/dashboards/aftercare.yml").read_text()
    )
    assert [p["options"]["path"] for p in provider["providers"]] == ["/var/lib/grafana/dashboards"]
    assert list((REPO_ROOT / "dashboards/generated").glob("*.json"))
    sources = yaml.safe_load(
        (REPO_ROOT / "dashboards/provisioning/datasources/prometheus.yml").read_text()
    )
    [source] = sources["datasources"]
    assert (source["uid"], source["url"]) == ("prometheus", "http://prometheus:9090")
    assert "prometheus" in compose()["services"]


def test_the_stack_has_every_part_and_profiles():
    services = compose()["services"]
    base = {n for n, s in services.items() if "profiles" not in s}
    assert base == {
        "prometheus",
        "alertmanager-1",
        "alertmanager-2",
        "notify-1",
        "notify-2",
        "grafana",
        "node-exporter",
        *(f"exporter-{area}" for area in EXPORTER_PORTS),
    }
    assert {n for n, s in services.items() if s.get("profiles") == ["demo"]} == {
        "demo-db",
        "demo-app",
        "demo-job",
        "demo-backup",
    }
    assert {n for n, s in services.items() if s.get("profiles") == ["scale"]} == {"victoriametrics"}
    for area, port in EXPORTER_PORTS.items():  # one image, one service per exporter
        service = services[f"exporter-{area}"]
        assert service["build"] == "." and service["image"] == "aftercare:0.1.0"
        assert service["command"][0] == area
        assert f"--web.listen-address=:{port}" in service["command"]
        assert (
            "./deploy/compose/aftercare.yml:/etc/aftercare/aftercare.yml:ro" in service["volumes"]
        )


def test_published_ports_do_not_collide_and_images_are_pinned():
    services = compose()["services"]
    host_ports = [p.split(":")[0] for s in services.values() for p in s.get("ports", [])]
    assert len(host_ports) == len(set(host_ports)), host_ports
    for name, service in services.items():
        tag = service["image"].rsplit(":", 1)
        assert (
            len(tag) == 2 and tag[1] not in ("", "latest") and any(c.isdigit() for c in tag[1])
        ), name


def test_alertmanager_pair_is_clustered_and_uses_the_projects_config():
    services = compose()["services"]
    for me, peer in (("alertmanager-1", "alertmanager-2"), ("alertmanager-2", "alertmanager-1")):
        command = services[me]["command"]
        assert f"--cluster.peer={peer}:9094" in command
        assert "--cluster.listen-address=0.0.0.0:9094" in command
        assert "./alertmanager:/etc/alertmanager:ro" in services[me]["volumes"]
    # aftercare-notify sits in each Alertmanager's network namespace, where the
    # config's address 127.0.0.1:9099 points
    assert services["notify-1"]["network_mode"] == "service:alertmanager-1"
    assert services["notify-2"]["network_mode"] == "service:alertmanager-2"
    assert "--web.listen-address=127.0.0.1:9099" in services["notify-1"]["command"]
    assert (
        "127.0.0.1:9099/notify/oncall"
        in (REPO_ROOT / "alertmanager" / "alertmanager.yml").read_text()
    )


def test_the_mounted_prometheus_configs_pass_promtool():
    for name in ("prometheus.yml", "prometheus-scale.yml"):
        result = subprocess.run(
            ["promtool", "check", "config", str(PROM_DIR / name)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout + result.stderr
        assert "rule files found" in result.stdout + result.stderr


def scrape_targets(job: dict) -> list[str]:
    """A scrape job's targets, static or from the file_sd files beside the config."""
    if "static_configs" in job:
        return job["static_configs"][0]["targets"]
    return [
        t
        for sd in job["file_sd_configs"]
        for name in sd["files"]
        for group in json.loads((PROM_DIR / name).read_text())
        for t in group["targets"]
    ]


def test_prometheus_sends_to_both_alertmanagers_and_scrapes_every_exporter():
    config = yaml.safe_load((PROM_DIR / "prometheus.yml").read_text())
    [am] = config["alerting"]["alertmanagers"]
    assert am["static_configs"][0]["targets"] == ["alertmanager-1:9093", "alertmanager-2:9093"]
    jobs = {c["job_name"]: scrape_targets(c) for c in config["scrape_configs"]}
    for area, port in EXPORTER_PORTS.items():
        assert jobs[f"aftercare-{area}"] == [f"exporter-{area}:{port}"]
    services = compose()["services"]
    for targets in jobs.values():
        for target in targets:
            host = target.split(":")[0]
            assert host == "localhost" or host in services, target


def test_the_scale_config_is_the_base_config_plus_remote_write():
    base = yaml.safe_load((PROM_DIR / "prometheus.yml").read_text())
    scale = yaml.safe_load((PROM_DIR / "prometheus-scale.yml").read_text())
    assert scale.pop("remote_write") == [
        {
            "url": "http://victoriametrics:8428/api/v1/write",
            "queue_config": {"max_samples_per_send": 5000},
        }
    ]
    assert scale == base
    assert compose()["services"]["victoriametrics"]["ports"] == ["8428:8428"]


def test_the_compose_config_for_the_exporters_is_valid():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "exporters.cli",
            "check-config",
            str(REPO_ROOT / "deploy" / "compose" / "aftercare.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((REPO_ROOT / "deploy" / "compose" / "aftercare.yml").read_text())
    hosts = json.dumps(config)
    assert (
        "127.0.0.1" not in hosts and "localhost" not in hosts
    )  # containers reach each other by name


def test_the_pager_bridge_prints_each_alert():
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(REPO_ROOT / "deploy" / "pager" / "pager.py"),
            "--listen",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: proc.stdout.readline().startswith("pager bridge listening"), 10)
        body = {
            "status": "firing",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {
                        "alertname": "AftercareDatabaseDown",
                        "severity": "critical",
                        "system": "demo",
                    },
                    "annotations": {"summary": "demo-pg is down"},
                }
            ],
        }
        response = requests.post(f"http://127.0.0.1:{port}/oncall", json=body, timeout=5)
        assert response.status_code == 200
        assert proc.stdout.readline().strip() == (
            "PAGE /oncall [FIRING] AftercareDatabaseDown "
            "severity=critical system=demo demo-pg is down"
        )
        assert (
            requests.post(f"http://127.0.0.1:{port}/x", data=b"not json", timeout=5).status_code
            == 200
        )
    finally:
        proc.terminate()
        proc.wait(5)
