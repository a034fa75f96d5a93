"""The area table (exporters/areas.py) against the repository: every name it gives exists where
it says, and the exporters, dashboards and report read their areas from it."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from exporters import areas
from exporters.config import load_config
from exporters.registry import DEFAULT_PORTS, EXPORTERS, areas_for

REPO = Path(__file__).resolve().parents[1]
NAMES = [a.name for a in areas.AREAS]


def test_the_areas_of_the_contract_in_order():
    assert NAMES == ["database", "services", "logs", "integrations", "exchange", "backups"]
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


@pytest.mark.parametrize("name", NAMES)
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
    done = subprocess.run([sys.executable, "-m", "exporters.cli", "check-config", example],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    counted = re.findall(r"\d+ (\w+)", done.stdout.split(";", 1)[1])
    assert counted == [a.config_key for a in areas.AREAS]


def test_help_names_the_areas_each_exporter_serves():
    done = subprocess.run([sys.executable, "-m", "exporters.cli", "--help"],
                          capture_output=True, text=True, timeout=60)
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
