"""The services exporter end to end: the real CLI, real local servers, one scrape."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import uuid

import pytest
import yaml

from devstack.blackhole import BlackHole
from devstack.exporter import ExporterProcess
from tests.test_probes_http import Server


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module")
def scraped(tmp_path_factory):
    """One scrape of a services exporter watching every kind of outcome."""
    d = tmp_path_factory.mktemp("services")
    marker = f"aftercare-svc-{uuid.uuid4().hex[:8]}"
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", marker])
    web = Server()
    hole = BlackHole().__enter__()
    config = {
        "defaults": {"timeout": "3s", "state_dir": str(d / "state")},
        "systems": [
            {
                "name": "billing",
                "services": [
                    {"name": "web", "http": {"url": web.url("/ok"), "body_regex": "healthy"}},
                    {"name": "web-error", "http": {"url": web.url("/error")}},
                    {
                        "name": "web-content",
                        "http": {"url": web.url("/ok"), "body_regex": "^maintenance"},
                    },
                    {"name": "hole", "timeout": "1s", "http": {"url": f"http://{hole.address}/"}},
                    {"name": "closed", "tcp": {"address": f"127.0.0.1:{closed_port()}"}},
                    {"name": "nowhere", "http": {"url": "http://app.aftercare.invalid/health"}},
                    {"name": "worker", "process": {"pattern": marker}},
                    {"name": "gone", "process": {"pattern": f"{marker}-absent"}},
                ],
            }
        ],
    }
    (d / "aftercare.yml").write_text(yaml.safe_dump(config))
    try:
        with ExporterProcess("services", d / "aftercare.yml") as exporter:
            start = time.monotonic()
            text = exporter.metrics_text()
            took = time.monotonic() - start
            yield text, took, exporter.samples()
    finally:
        hole.__exit__(None, None, None)
        web.close()
        worker.kill()
        worker.wait()


def value(samples, name, **labels):
    found = [
        v for n, lab, v in samples if n == name and all(lab.get(k) == x for k, x in labels.items())
    ]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def present(samples, name, **labels):
    return any(
        n == name and all(lab.get(k) == x for k, x in labels.items()) for n, lab, _ in samples
    )


EXPECTED = {
    "web": None,
    "web-error": "status",
    "web-content": "content",
    "hole": "timeout",
    "closed": "connect",
    "nowhere": "dns",
    "worker": None,
    "gone": "process",
}


def test_black_hole_costs_its_timeout_only(scraped):
    _, took, _ = scraped
    assert took < 1.0 + 0.5


@pytest.mark.parametrize("service,reason", EXPECTED.items())
def test_up_and_reason(scraped, service, reason):
    _, _, samples = scraped
    assert value(samples, "aftercare_service_up", system="billing", service=service) == (
        reason is None
    )
    for r in ("dns", "connect", "tls", "auth", "timeout", "status", "content", "process"):
        assert value(samples, "aftercare_service_failure", service=service, reason=r) == (
            r == reason
        )
    # response time only for a passed check
    assert present(samples, "aftercare_service_response_seconds", service=service) == (
        reason is None
    )


def test_details(scraped):
    _, _, samples = scraped
    assert value(samples, "aftercare_http_status_code", service="web") == 200
    assert value(samples, "aftercare_http_status_code", service="web-error") == 500
    assert value(samples, "aftercare_http_phase_seconds", service="web", phase="processing") > 0
    assert value(samples, "aftercare_process_running", service="worker") == 1
    assert value(samples, "aftercare_process_resident_memory_bytes", service="worker") > 1e6
    assert 0 < value(samples, "aftercare_service_response_seconds", service="web") < 1


@pytest.mark.skipif(not shutil.which("promtool"), reason="promtool is not installed")
def test_promtool_check_metrics_clean(scraped):
    text, _, _ = scraped
    result = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "http,key",
    [
        (
            {"url": "http://127.0.0.1:8080/", "body_regex": "("},
            "systems[0].services[0].http.body_regex",
        ),
        ({"url": "ftp://files/"}, "systems[0].services[0].http.url"),
        ({"url": "http://host:99999/"}, "systems[0].services[0].http.url"),
    ],
)
def test_bad_regex_or_url_is_a_config_error(tmp_path, http, key):
    config = tmp_path / "aftercare.yml"
    config.write_text(
        yaml.safe_dump({"systems": [{"name": "s", "services": [{"name": "w", "http": http}]}]})
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "exporters.cli",
            "services",
            "--config.file",
            str(config),
            "--web.listen-address",
            f"127.0.0.1:{closed_port()}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert key in result.stderr and str(config) in result.stderr
    assert "Traceback" not in result.stderr
