"""The area table (exporters/areas.py) against the repository: every name it gives exists where
it says, and the exporters, dashboards and report read their areas from it."""

from __future__ import annotations

import datetime
import http.server
import json
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client.parser import text_string_to_metric_families

from exporters import areas
from exporters.config import load_config
from exporters.registry import DEFAULT_PORTS, EXPORTERS, areas_for

REPO = Path(__file__).resolve().parents[1]
NAMES = [a.name for a in areas.AREAS]
SERVED = [a.name for a in areas.AREAS if a.exporter]  # the areas an exporter of ours serves


def test_the_areas_of_the_contract_in_order():
    assert NAMES == ["database", "services", "logs", "integrations", "exchange", "backups", "hosts"]
    assert set(areas.BY_NAME) == set(NAMES)
    assert len({a.target_label for a in areas.AREAS}) == len(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_rule_files_alerts_and_runbooks(name: str):
    area = areas.BY_NAME[name]
    assert (REPO / area.rules_file).is_file()
    assert (REPO / "rules" / "tests" / f"{name}_test.yml").is_file()
    groups = yaml.safe_load((REPO / area.alerts_file).read_text())["groups"]
    assert [g["name"] for g in groups] == [f"aftercare-{name}"]
    alerts = [r for g in groups for r in g["rules"] if "alert" in r]
    assert alerts, f"{area.alerts_file} has no alert"
    for rule in alerts:
        assert rule["labels"]["area"] == name, rule["alert"]
        assert (REPO / "docs" / "runbooks" / f"{rule['alert']}.md").is_file(), rule["alert"]


@pytest.mark.parametrize("name", NAMES)
def test_dashboard_exists_and_filters_by_the_target_label(name: str):
    area = areas.BY_NAME[name]
    assert (REPO / "dashboards" / f"{area.dashboard}.dashboard.py").is_file()
    data = json.loads((REPO / area.dashboard_file).read_text())
    assert data["uid"] == area.dashboard_uid
    assert area.target_label in [v["name"] for v in data["templating"]["list"]]
    annotation = data["annotations"]["list"][0]["expr"]
    regex = re.search(r'area=~"([^"]+)"', annotation).group(1)
    assert re.fullmatch(regex, name), f"{area.dashboard_uid} does not annotate {name} alerts"


def test_the_overview_links_every_area_dashboard():
    overview = (REPO / "dashboards" / "generated" / "aftercare-overview.json").read_text()
    for area in areas.AREAS:
        assert f"/d/{area.dashboard_uid}/{area.dashboard_uid}?" in overview, area.name


def test_the_hosts_area_is_served_by_node_exporter_not_by_us():
    hosts = areas.BY_NAME["hosts"]
    assert (hosts.exporter, hosts.classes, hosts.port) == (None, (), None)
    assert SERVED == [n for n in NAMES if n != "hosts"]
    assert "hosts" not in areas.exporter_areas("all")
    assert None not in EXPORTERS and None not in DEFAULT_PORTS


@pytest.mark.parametrize("name", SERVED)
def test_exporter_serves_the_area_with_its_target_label(name: str):
    area = areas.BY_NAME[name]
    served = areas_for(area.exporter)
    for ref in area.classes:
        module, _, cls = ref.partition(":")
        loaded = next(c for c in served if c.__module__ == module and c.__name__ == cls)
        assert loaded.target_label == area.target_label, ref
    assert set(area.classes) <= set(EXPORTERS[area.exporter])
    assert DEFAULT_PORTS[area.exporter] == area.port
    assert name in areas.exporter_areas(area.exporter)


def test_every_class_is_served_once_and_ports_are_distinct():
    refs = [r for a in areas.AREAS for r in a.classes]
    assert sorted(refs) == sorted(r for refs in EXPORTERS.values() for r in refs)
    assert len(areas_for("all")) == len(refs)
    assert len(set(DEFAULT_PORTS.values())) == len(DEFAULT_PORTS)
    assert DEFAULT_PORTS["all"] == areas.ALL_PORT


def test_config_keys_are_the_lists_of_a_system():
    raw = yaml.safe_load((REPO / "examples" / "aftercare.yml").read_text())
    config = load_config(str(REPO / "examples" / "aftercare.yml"))
    for area in areas.AREAS:
        assert any(area.config_key in s for s in raw["systems"]), area.config_key
        assert all(isinstance(getattr(s, area.config_key), tuple) for s in config.systems)


def test_check_config_counts_every_area_by_its_config_key():
    example = str(REPO / "examples" / "aftercare.yml")
    done = subprocess.run(
        [sys.executable, "-m", "exporters.cli", "check-config", example],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    counted = re.findall(r"\d+ (\w+)", done.stdout.split(";", 1)[1])
    assert counted == [a.config_key for a in areas.AREAS]


def test_help_names_the_areas_each_exporter_serves():
    done = subprocess.run(
        [sys.executable, "-m", "exporters.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "services: services, logs" in text
    for exporter in EXPORTERS:
        assert f"{exporter}: " in text


def test_report_sections_cover_every_area_and_keep_the_json_keys():
    from reportgen.analysis import AREAS as GRADE_KEYS
    from reportgen.render.messages import MESSAGES

    sections = {s.key: s for s in areas.REPORT_SECTIONS}
    assert GRADE_KEYS == tuple(s.grade_key for s in areas.REPORT_SECTIONS)
    assert sections["backups"].grade_key == "protection"
    for area in areas.AREAS:
        assert any(area.name in s.covers for s in areas.REPORT_SECTIONS), area.name
        if area.report_section:
            assert area.name in sections[area.report_section].covers
    for section in areas.REPORT_SECTIONS:
        assert set(section.covers) <= set(NAMES), section.key
        assert f"area.{section.key}" in MESSAGES
        assert (REPO / "reportgen" / "analysis" / f"{section.key}.py").is_file()


def find_it_by_name(page: str) -> str:
    """The "Find it by name" section of a docs page."""
    _, sep, rest = page.partition("\n## Find it by name\n")
    assert sep, "no 'Find it by name' section"
    return rest.split("\n## ", 1)[0]


@pytest.mark.parametrize("name", NAMES)
def test_docs_page_names_the_area_everywhere_and_is_linked_from_the_readme(name: str):
    area = areas.BY_NAME[name]
    section = find_it_by_name((REPO / area.docs).read_text())
    assert f"`systems[].{area.config_key}`" in section
    if area.exporter:
        assert f"`aftercare-exporter {area.exporter}`" in section
    else:  # scraped from node_exporter, through the targets we write
        assert "`aftercare-exporter targets`" in section and "node_exporter" in section
    assert f"`{area.target_label}`" in section
    assert f"`{area.rules_file}`" in section and f"`{area.alerts_file}`" in section
    assert f"`dashboards/{area.dashboard}.dashboard.py` → `{area.dashboard_uid}`" in section
    report = next(line for line in section.splitlines() if line.startswith("| report |"))
    for s in areas.REPORT_SECTIONS:
        if name in s.covers and s.key != "stability":
            assert s.key in report, f"{area.docs}: report sections: {report}"
    assert f"]({area.docs})" in (REPO / "README.md").read_text()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scrape_families(exporter: str, config: Path) -> set[str]:
    """The aftercare_* metric families a real exporter process exposes for config."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exporters.cli",
            exporter,
            "--config.file",
            str(config),
            "--web.listen-address",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stderr.read()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
                    text = r.read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline, "the exporter did not answer"
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(10)
    return {f.name for f in text_string_to_metric_families(text) if f.name.startswith("aftercare_")}


def documented_metrics(page: str) -> set[str]:
    """Metric names in the Metrics section of a docs page, as family names (no _total)."""
    section = page.partition("\n## Metrics\n")[2].split("\n## ", 1)[0]
    names = re.findall(r"`(aftercare_[a-z0-9_]+|<prefix>_[a-z_]+)", section)
    return {re.sub(r"_total$", "", n.replace("<prefix>", "aftercare_log")) for n in names}


COMMON = re.compile(r"aftercare_(config|scrape)_|aftercare_build_info$")  # every exporter has them


@pytest.fixture
def https_server(tmp_path):
    """A throwaway HTTPS server with a self-signed certificate: its port."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_services_and_integrations_pages_document_exactly_what_their_exporters_expose(
    tmp_path, https_server
):
    config = tmp_path / "aftercare.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "defaults": {
                    "timeout": "3s",
                    "state_dir": str(tmp_path / "state"),
                    "timezone": "UTC",
                },
                "systems": [
                    {
                        "name": "s",
                        "services": [
                            {
                                "name": "web",
                                "http": {
                                    "url": f"https://127.0.0.1:{https_server}/",
                                    "tls_verify": False,
                                },
                            },
                            {"name": "runner", "process": {"pattern": "pytest"}},
                        ],
                        "integrations": [{"name": "pg", "tcp": {"address": "127.0.0.1:5432"}}],
                    }
                ],
            }
        )
    )
    services = documented_metrics((REPO / "docs" / "services.md").read_text())
    logs = documented_metrics((REPO / "docs" / "logs.md").read_text())
    exposed = {n for n in scrape_families("services", config) if not COMMON.match(n)}
    assert services <= exposed, sorted(services - exposed)
    assert exposed - logs == services, sorted(exposed - logs - services)
    integrations = documented_metrics((REPO / "docs" / "integrations.md").read_text())
    exposed = {n for n in scrape_families("integrations", config) if not COMMON.match(n)}
    assert exposed == integrations
