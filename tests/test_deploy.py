"""docker-compose.yml and the Prometheus config it mounts, validated offline."""
from __future__ import annotations

import subprocess

import yaml

from tests.harness import REPO_ROOT


def compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


def test_every_bind_mount_and_build_context_exists():
    services = compose()["services"]
    assert {"prometheus", "alertmanager", "exporter-database"} <= set(services)
    for name, service in services.items():
        if "build" in service:
            assert (REPO_ROOT / service["build"] / "Dockerfile").is_file(), name
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (REPO_ROOT / source).exists(), f"{name}: {source}"


def test_published_ports_do_not_collide_and_images_are_pinned():
    services = compose()["services"]
    host_ports = [p.split(":")[0] for s in services.values() for p in s.get("ports", [])]
    assert len(host_ports) == len(set(host_ports))
    for name, service in services.items():
        if "image" in service:
            tag = service["image"].rsplit(":", 1)
            assert len(tag) == 2 and tag[1] not in ("", "latest"), name


def test_the_mounted_prometheus_config_passes_promtool():
    result = subprocess.run(["promtool", "check", "config",
                             str(REPO_ROOT / "deploy" / "prometheus" / "prometheus.yml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
