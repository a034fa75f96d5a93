"""Dashboards as code: generation is deterministic and committed, the JSON is well formed,
variables, units, links and thresholds follow the conventions, provisioning matches compose."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dashboards import build, helpers
from dashboards.queries import load_dashboards, panels, queries, substitute, variables
from devstack import REPO_ROOT

AREA_DASHBOARDS = ["database", "services", "integrations", "exchange", "backups"]


@pytest.fixture(scope="module")
def dashboards() -> dict[str, dict]:
    return load_dashboards()


def test_committed_json_equals_a_fresh_generation(tmp_path):
    """The drift check: regenerate into a temp dir and compare bytes with dashboards/generated/."""
    result = subprocess.run(
        [sys.executable, "-m", "dashboards.build", "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    fresh = {p.name: p.read_bytes() for p in tmp_path.glob("*.json")}
    committed = {p.name: p.read_bytes() for p in build.GENERATED_DIR.glob("*.json")}
    assert sorted(fresh) == sorted(committed), "run `python -m dashboards.build`"
    for name, data in fresh.items():
        assert data == committed[name], f"{name} is stale: run `python -m dashboards.build`"
    assert build.differences(build.GENERATED_DIR) == []


def test_output_is_sorted_indented_and_ends_with_a_newline():
    for name, text in build.generate().items():
        assert text.endswith("}\n") and not text.endswith("\n\n"), name
        assert (
            text
            == json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
        )
    assert build.generate() == build.generate()


def test_check_mode_reports_drift(tmp_path):
    build.write(tmp_path)
    assert build.main(["--check", "--out", str(tmp_path)]) == 0
    victim = tmp_path / "aftercare-backups.json"
    victim.write_text(victim.read_text().replace('"Backups kept"', '"Backups kept!"'))
    (tmp_path / "aftercare-removed.json").write_text("{}\n")
    assert build.differences(tmp_path) == ["aftercare-backups.json", "aftercare-removed.json"]
    assert build.main(["--check", "--out", str(tmp_path)]) == 1
    build.write(tmp_path)  # rewrites the changed one, removes the stale one
    assert build.differences(tmp_path) == []


def test_one_dashboard_per_area_plus_the_overview(dashboards):
    expected = {uid for uid, _, _ in helpers.DASHBOARDS.values()}
    assert set(dashboards) == expected
    assert len({d["title"] for d in dashboards.values()}) == len(expected)
    for name, (uid, title, _) in helpers.DASHBOARDS.items():
        assert (build.SOURCE_DIR / f"{name}.dashboard.py").is_file()
        assert dashboards[uid]["title"] == title
        assert dashboards[uid]["schemaVersion"] == helpers.SCHEMA_VERSION
        assert set(dashboards[uid]["tags"]) == {"aftercare", name}


def test_modern_panels_only_with_unique_ids_on_the_grid(dashboards):
    for uid, dashboard in dashboards.items():
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)), uid
        cells = set()
        for panel in dashboard["panels"]:
            assert panel["type"] in {"row", "stat", "timeseries", "table"}, (uid, panel["type"])
            pos = panel["gridPos"]
            assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24, (uid, panel["title"])
            for x in range(pos["x"], pos["x"] + pos["w"]):
                for y in range(pos["y"], pos["y"] + pos["h"]):
                    assert (x, y) not in cells, f"{uid}: {panel['title']} overlaps another panel"
                    cells.add((x, y))


def test_every_panel_reads_the_datasource_variable_and_has_a_unit(dashboards):
    for uid, dashboard in dashboards.items():
        for panel in panels(dashboard):
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel[
                "title"
            ]
            assert panel["targets"], panel["title"]
            for t in panel["targets"]:
                assert t["datasource"] == panel["datasource"] and t["expr"] and t["refId"]
            unit = panel["fieldConfig"]["defaults"].get("unit")
            assert unit, f"{uid}: {panel['title']} has no unit"
            if panel["type"] == "timeseries":
                assert panel["options"]["legend"]["displayMode"] == "table"
                assert all(t["legendFormat"] for t in panel["targets"]), panel["title"]


def test_units_follow_the_metric(dashboards):
    """Bytes panels are in bytes, seconds in s or a duration, ratios in percent."""
    for dashboard in dashboards.values():
        for panel in panels(dashboard):
            unit = panel["fieldConfig"]["defaults"]["unit"]
            exprs = " ".join(t["expr"] for t in panel["targets"])
            if (
                panel["type"] == "timeseries"
                and "_bytes" in exprs
                and "rate(" not in exprs
                and " / " not in exprs
            ):
                assert unit == "bytes", panel["title"]
            if "- time()" in exprs or "time() -" in exprs:
                assert unit in {"s", "dtdurations"}, panel["title"]
            if "avg_over_time" in exprs and "_up" in exprs:
                assert unit == "percentunit", panel["title"]


def test_variables_datasource_system_and_the_areas_target(dashboards):
    for name in ["overview", *AREA_DASHBOARDS]:
        uid, _, label = helpers.DASHBOARDS[name]
        listed = {v["name"]: v for v in dashboards[uid]["templating"]["list"]}
        assert listed["datasource"]["type"] == "datasource"
        assert listed["datasource"]["query"] == "prometheus"
        assert listed["datasource"]["current"]["value"] == helpers.DATASOURCE_UID
        wanted = ["system"] + ([label] if label else [])
        for var in wanted:
            v = listed[var]
            assert v["type"] == "query" and v["multi"] and v["includeAll"] and v["allValue"] == ".*"
            assert v["current"]["value"] == ["$__all"]
            assert v["datasource"]["uid"] == "${datasource}"
        if label:
            assert (
                listed[label]["query"].startswith("label_values(")
                and '{system=~"$system"}' in listed[label]["query"]
            )
            for q in queries(dashboards[uid]):
                if q.kind != "annotation" and "aftercare_" in q.expr and "ALERTS" not in q.expr:
                    assert 'system=~"$system"' in q.expr, q.key


def test_every_expression_uses_only_known_variables(dashboards):
    for dashboard in dashboards.values():
        values = variables(dashboard)
        for q in queries(dashboard):
            assert "$" not in substitute(q.expr, values), q.key


def test_overview_repeats_a_row_per_system_and_links_carry_the_system(dashboards):
    overview = dashboards["aftercare-overview"]
    rows = [p for p in overview["panels"] if p["type"] == "row"]
    assert [r.get("repeat") for r in rows] == [None, "system"]
    repeated = [p for p in overview["panels"] if p["gridPos"]["y"] > rows[1]["gridPos"]["y"]]
    titles = [p["title"] for p in repeated]
    assert titles == [
        "Databases down",
        "Services down",
        "Integrations down",
        "Exchange jobs late or failed",
        "Backups late or bad",
        "Hosts down or in trouble",
        "Critical alerts",
        "Warning alerts",
        "Service availability",
    ]
    assert all(p["type"] == "stat" and p["options"]["colorMode"] == "background" for p in repeated)
    uids = {uid for uid, _, _ in helpers.DASHBOARDS.values()}
    linked = set()
    for panel in repeated:
        for link in panel["links"]:
            assert "${system:queryparam}" in link["url"] and "${__url_time_range}" in link["url"]
            linked.add(link["url"].split("/")[2])
    assert linked == uids - {"aftercare-overview"}
    for dashboard in dashboards.values():
        nav = dashboard["links"][0]
        assert nav["type"] == "dashboards" and nav["tags"] == ["aftercare"]
        assert nav["includeVars"] and nav["keepTime"]


def test_overview_alerts_come_from_ALERTS_by_severity(dashboards):
    overview = {p["title"]: p for p in panels(dashboards["aftercare-overview"])}
    by_severity = overview["Firing alerts by severity"]["targets"][0]["expr"]
    assert (
        by_severity.startswith("count by (severity) (ALERTS{")
        and 'alertstate="firing"' in by_severity
    )
    assert 'alertname!="Watchdog"' in by_severity
    assert 'severity="critical"' in overview["Critical alerts"]["targets"][0]["expr"]
    assert overview["Firing alerts"]["targets"][0]["format"] == "table"


def test_area_dashboards_annotate_their_areas_alerts(dashboards):
    for name in AREA_DASHBOARDS:
        uid = helpers.DASHBOARDS[name][0]
        (annotation,) = dashboards[uid]["annotations"]["list"]
        assert annotation["expr"] == (
            f'ALERTS{{alertstate="firing",area=~"{helpers.ALERT_AREAS[name]}",system=~"$system"}}'
        )
        assert annotation["datasource"]["uid"] == "${datasource}" and annotation["enable"]


def test_every_alert_area_is_annotated_on_exactly_one_dashboard():
    areas = {rule["labels"]["area"] for rule in alert_rules().values()} - {"meta"}
    assert "database" in areas
    for area in areas:
        matching = [
            name for name, regex in helpers.ALERT_AREAS.items() if re.fullmatch(regex, area)
        ]
        assert len(matching) == 1, f"alerts of area {area!r} annotate {matching}"


def test_thresholds_step_upwards(dashboards):
    for dashboard in dashboards.values():
        for panel in panels(dashboard):
            steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
            assert steps[0]["value"] is None, panel["title"]
            values = [s["value"] for s in steps[1:]]
            assert values == sorted(values) and len(set(values)) == len(values), panel["title"]


def alert_rules() -> dict[str, dict]:
    rules = {}
    for path in sorted((REPO_ROOT / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    rules[rule["alert"]] = rule
    return rules


# THRESHOLDS key -> the aftercare:threshold:* recording rules of its (amber, red) steps.
THRESHOLD_RECORDS = {
    "filesystem_free_ratio": (
        "database_filesystem_warning_free_ratio",
        "database_filesystem_critical_free_ratio",
    ),
    "connections_used_ratio": (
        "database_connections_warning_ratio",
        "database_connections_critical_ratio",
    ),
    "oldest_transaction_seconds": ("database_transaction_age_seconds", None),
    "replication_lag_seconds": ("database_replication_lag_seconds", None),
    "deadlocks_per_hour": ("database_deadlocks_per_hour", None),
    "rollback_ratio": ("database_rollback_ratio", None),
    "log_fatal_per_15m": ("database_log_fatal_per_15m", None),
    "tls_expiry_seconds": ("tls_expiry_warning_seconds", "tls_expiry_critical_seconds"),
    "integration_latency_seconds": ("integration_latency_seconds", None),
    "backlog_oldest_age_seconds": ("exchange_backlog_age_seconds", None),
    "backup_size_change_ratio": ("backup_shrink_ratio", None),
    "host_cpu_busy_ratio": ("host_cpu_busy_ratio", None),
    "host_load_per_core": ("host_load_per_core", None),
    "host_memory_available_ratio": (
        "host_memory_available_warning_ratio",
        "host_memory_available_critical_ratio",
    ),
    "host_filesystem_used_ratio": (
        "host_filesystem_used_warning_ratio",
        "host_filesystem_used_critical_ratio",
    ),
    "host_disk_busy_ratio": ("host_disk_busy_ratio", None),
    "host_clock_offset_seconds": ("host_clock_offset_seconds", None),
}


def threshold_records() -> dict[str, float]:
    """{name: value} of the rules' `aftercare:threshold:<name>` records of the form
    vector(<arithmetic>)."""
    out = {}
    for path in sorted((REPO_ROOT / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text()).get("groups", []):
            for rule in group["rules"]:
                name = rule.get("record", "")
                m = re.fullmatch(r"vector\(([\d\s.*/+-]+)\)", str(rule.get("expr", "")).strip())
                if name.startswith("aftercare:threshold:") and m:
                    out[name.split(":")[-1]] = eval(
                        m.group(1), {"__builtins__": {}}
                    )  # digits and operators only
    return out


def test_dashboard_thresholds_equal_the_alert_thresholds():
    """Amber is the warning alert's threshold, red the critical one's, wherever rules/ defines
    them."""
    records = threshold_records()
    mismatches = []
    for key, names in THRESHOLD_RECORDS.items():
        for name, value in zip(names, helpers.THRESHOLDS[key], strict=True):
            if name is None:
                assert value is None, f"{key}: a dashboard step without an alert behind it"
            elif name in records and records[name] != value:
                mismatches.append(
                    f"{key}: dashboard {value}, rules aftercare:threshold:{name} {records[name]}"
                )
    assert not mismatches, "\n".join(mismatches)


def test_dashboards_colour_red_where_the_alerts_fire(dashboards):
    """The red step of a dashboard equals the condition of the alert on the same metric."""
    rules = alert_rules()
    by_title = {p["title"]: p for d in dashboards.values() for p in panels(d)}
    # AftercareDatabaseDown: aftercare_database_up == 0 -> "Database up" is red below 1,
    # green from 1
    assert rules["AftercareDatabaseDown"]["expr"].strip() == "aftercare_database_up == 0"
    up = by_title["Database up"]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert up == [{"color": "red", "value": None}, {"color": "green", "value": 1}]
    # AftercareExporterDown: up{job=~"aftercare.*"} == 0 -> the overview counts exactly those
    assert rules["AftercareExporterDown"]["expr"].strip() == 'up{job=~"aftercare.*"} == 0'
    assert (
        by_title["Aftercare exporters down"]["targets"][0]["expr"]
        == 'count(up{job=~"aftercare.*"} == 0) or vector(0)'
    )
    tls = by_title["TLS certificate expires in"]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert tls == [
        {"color": "red", "value": None},
        {"color": "orange", "value": 3 * 86400},
        {"color": "green", "value": 20 * 86400},
    ]
    overdue = by_title["Deadline in"]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert overdue[0]["color"] in {"red", "orange"} and overdue[-1] == {
        "color": "green",
        "value": 0,
    }


def test_provisioning_matches_the_compose_mounts():
    base = REPO_ROOT / "dashboards" / "provisioning"
    (datasource,) = yaml.safe_load((base / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    assert datasource["uid"] == helpers.DATASOURCE_UID and datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090" and datasource["isDefault"]
    (provider,) = yaml.safe_load((base / "dashboards" / "aftercare.yml").read_text())["providers"]
    assert (
        provider["type"] == "file" and provider["options"]["path"] == "/var/lib/grafana/dashboards"
    )
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    grafana = compose.get("services", {}).get("grafana")
    if grafana is None:
        pytest.fail("docker-compose.yml has no grafana service to load the provisioning")
    mounts = {v.split(":")[0]: v.split(":")[1] for v in grafana["volumes"] if v.startswith("./")}
    assert (
        mounts["./dashboards/provisioning/datasources"] == "/etc/grafana/provisioning/datasources"
    )
    assert mounts["./dashboards/provisioning/dashboards"] == "/etc/grafana/provisioning/dashboards"
    assert mounts["./dashboards/generated"] == provider["options"]["path"]


def test_sources_never_name_this_machine():
    for path in [
        *build.SOURCE_DIR.glob("*.py"),
        *build.GENERATED_DIR.glob("*.json"),
        *Path(build.SOURCE_DIR / "provisioning").rglob("*.yml"),
    ]:
        text = path.read_text()
        assert "/work/" not in text and "/root/" not in text and "/tmp/" not in text, path


def test_firing_alerts_by_severity_are_red_for_critical():
    overview = json.loads(
        (REPO_ROOT / "dashboards" / "generated" / "aftercare-overview.json").read_text()
    )
    (panel,) = [p for p in overview["panels"] if p.get("title") == "Firing alerts by severity"]
    colors = {
        o["matcher"]["options"]: o["properties"][0]["value"]["fixedColor"]
        for o in panel["fieldConfig"]["overrides"]
    }
    assert colors == {"critical": "red", "warning": "orange", "info": "blue"}
