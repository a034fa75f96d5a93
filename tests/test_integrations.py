"""The integrations exporter end to end: real handshakes with the loopback
servers, failures with their reasons, secrets kept out of metrics and logs."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest
import yaml

from devstack.blackhole import BlackHole
from devstack.exporter import ExporterProcess

WRONG_PASSWORD = "wrong-pass-7f3a9c"


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


EXPECTED = {
    "erp-db": None,
    "crm-db": None,
    "cache": None,
    "queue": None,
    "iot": None,
    "resolver": None,
    "nats": None,
    "queue-badpass": "auth",
    "erp-db-badrole": "auth",
    "cache-hole": "timeout",
    "files": "connect",
    "partner": "dns",
}


@pytest.fixture(scope="module")
def scraped(tmp_path_factory):
    d = tmp_path_factory.mktemp("integrations")
    (d / "mq.pass").write_text("guest\n")
    (d / "bad.pass").write_text(WRONG_PASSWORD + "\n")
    with BlackHole() as hole:
        config = {
            "defaults": {"timeout": "3s", "state_dir": str(d / "state")},
            "systems": [
                {
                    "name": "billing",
                    "integrations": [
                        {
                            "name": "erp-db",
                            "postgresql": {"dsn": "postgresql://postgres@127.0.0.1:5432/postgres"},
                        },
                        {
                            "name": "erp-db-badrole",
                            "postgresql": {
                                "dsn": "postgresql://no_such_role_aftercare@127.0.0.1:5432/postgres"
                            },
                        },
                        {"name": "crm-db", "mysql": {"dsn": "mysql://root@127.0.0.1:3306/"}},
                        {"name": "cache", "redis": {"address": "127.0.0.1:6379"}},
                        {"name": "cache-hole", "timeout": "1s", "redis": {"address": hole.address}},
                        {
                            "name": "queue",
                            "amqp": {
                                "url": "amqp://guest@127.0.0.1:5672/",
                                "password_file": str(d / "mq.pass"),
                            },
                        },
                        {
                            "name": "queue-badpass",
                            "amqp": {
                                "url": "amqp://guest@127.0.0.1:5672/",
                                "password_file": str(d / "bad.pass"),
                            },
                        },
                        {"name": "iot", "mqtt": {"address": "127.0.0.1:1883"}},
                        {"name": "resolver", "dns": {"name": "localhost"}},
                        {"name": "nats", "tcp": {"address": "127.0.0.1:4222", "expect": "^INFO"}},
                        {"name": "files", "tcp": {"address": f"127.0.0.1:{closed_port()}"}},
                        {
                            "name": "partner",
                            "http": {"url": "https://partner.aftercare.invalid/ping"},
                        },
                    ],
                }
            ],
        }
        (d / "aftercare.yml").write_text(yaml.safe_dump(config))
        with ExporterProcess("integrations", d / "aftercare.yml") as exporter:
            start = time.monotonic()
            text = exporter.metrics_text()
            took = time.monotonic() - start
            samples = exporter.samples()
            yield text, took, samples, exporter.stderr_text()


def value(samples, name, **labels):
    found = [
        v for n, lab, v in samples if n == name and all(lab.get(k) == x for k, x in labels.items())
    ]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def test_all_links_checked_within_the_slowest_timeout(scraped):
    _, took, _, _ = scraped
    assert took < 1.0 + 0.5


@pytest.mark.parametrize("link,reason", EXPECTED.items())
def test_up_reason_and_latency(scraped, link, reason):
    _, _, samples, _ = scraped
    assert value(samples, "aftercare_integration_up", system="billing", integration=link) == (
        reason is None
    )
    for r in ("dns", "connect", "tls", "auth", "timeout", "status", "content", "process"):
        assert value(samples, "aftercare_integration_failure", integration=link, reason=r) == (
            r == reason
        )
    latency = [
        v
        for n, lab, v in samples
        if n == "aftercare_integration_latency_seconds" and lab["integration"] == link
    ]
    if reason is None:
        assert len(latency) == 1 and 0 < latency[0] < 3
    else:
        assert latency == []


def test_secrets_never_exposed(scraped):
    text, _, _, log = scraped
    assert WRONG_PASSWORD not in text and WRONG_PASSWORD not in log


def test_only_link_metrics(scraped):
    _, _, samples, _ = scraped
    assert not any(
        n.startswith(("aftercare_http_", "aftercare_tls_", "aftercare_service_"))
        for n, _, _ in samples
    )


@pytest.mark.skipif(not shutil.which("promtool"), reason="promtool is not installed")
def test_promtool_check_metrics_clean(scraped):
    text, _, _, _ = scraped
    result = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
