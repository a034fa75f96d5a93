"""Prometheus alerting rules: promtool checks, promtool unit tests, and the
conventions every alert follows (rules/README.md).

Runs the real promtool (Debian package `prometheus`)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from scripts import gen_rules

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "rules"
RULE_TESTS = RULES / "tests"
RUNBOOKS = REPO / "docs" / "runbooks"

RUNBOOK_BASE = "https://github.com/aftercare/aftercare/blob/main/docs/runbooks/"
AREAS = {"database", "services", "logs", "integrations", "exchange", "backups", "hosts", "meta"}
SEVERITIES = {"critical", "warning", "info"}
REQUIRED_ANNOTATIONS = ("summary", "summary_zh", "description", "runbook_url")
DEAD_MANS_SWITCH = "Watchdog"


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool not found: apt-get install prometheus"
    return path


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)


def alert_files() -> list[Path]:
    return sorted(RULES.glob("*.alerts.yml"))


def unit_test_files() -> list[Path]:
    return sorted(RULE_TESTS.glob("*.yml"))


def load_alerts() -> list[tuple[Path, dict]]:
    out = []
    for path in alert_files():
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in doc["groups"]:
            for rule in group["rules"]:
                out.append((path, rule))
    return out


def expected_outcomes() -> dict[str, set[str]]:
    """alertname -> {"firing", "quiet"}: which outcomes some test expects."""
    seen: dict[str, set[str]] = {}
    for path in unit_test_files():
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in doc.get("tests") or []:
            for check in case.get("alert_rule_test") or []:
                kind = "firing" if check.get("exp_alerts") else "quiet"
                seen.setdefault(check["alertname"], set()).add(kind)
    return seen


ALERTS = load_alerts()


def area_of(path: Path) -> str:
    return path.name.removesuffix(".alerts.yml")


# --- promtool -------------------------------------------------------------


def test_promtool_check_rules():
    files = sorted(RULES.glob("*.yml"))
    assert files, "no rule files in rules/"
    result = run(promtool(), "check", "rules", *map(str, files))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests():
    files = unit_test_files()
    assert files, "no promtool test files in rules/tests/"
    result = run(promtool(), "test", "rules", *map(str, files))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(files), result.stdout


# --- layout ---------------------------------------------------------------


def test_there_are_alerts():
    assert alert_files() and ALERTS


@pytest.mark.parametrize("path", alert_files(), ids=lambda p: p.name)
def test_alert_file_layout(path: Path):
    area = area_of(path)
    assert area in AREAS, (
        f"{path.name}: file must be <area>.alerts.yml, area one of {sorted(AREAS)}"
    )
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    for group in doc["groups"]:
        assert group["name"] == f"aftercare-{area}", f"{path.name}: group {group['name']!r}"
        for rule in group["rules"]:
            assert "alert" in rule, (
                f"{path.name}: recording rules belong in {area}.rules.yml: {rule}"
            )


def test_alert_names_unique_per_severity():
    """One name may carry a warning and a critical rule (Alertmanager's
    critical-mutes-warning inhibition relies on the shared name), never two of one severity."""
    keys = [(rule["alert"], rule["labels"]["severity"]) for _, rule in ALERTS]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)


def recording_files() -> list[Path]:
    return sorted(RULES.glob("*.rules.yml"))


@pytest.mark.parametrize("path", recording_files(), ids=lambda p: p.name)
def test_recording_file_layout(path: Path):
    area = path.name.split(".")[0]
    assert area in AREAS, f"{path.name}: file must be <area>[.<part>].rules.yml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    for group in doc["groups"]:
        assert group["name"].startswith(f"aftercare-{area}-"), (
            f"{path.name}: group {group['name']!r}"
        )
        for rule in group["rules"]:
            assert "record" in rule, f"{path.name}: alerts belong in {area}.alerts.yml: {rule}"


def thresholds() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in recording_files():
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                if rule["record"].startswith("aftercare:threshold:"):
                    assert rule["record"] not in out, f"{rule['record']} defined twice"
                    out[rule["record"]] = path
    return out


def test_thresholds_are_defined_once_and_used():
    defined = thresholds()
    assert defined
    alert_text = "".join(p.read_text(encoding="utf-8") for p in alert_files())
    unused = [name for name in defined if name not in alert_text]
    assert not unused, f"thresholds no alert uses: {unused}"
    used = set(re.findall(r"aftercare:threshold:[a-z0-9_]+", alert_text))
    assert used <= set(defined), f"thresholds used but not defined: {sorted(used - set(defined))}"


def test_alert_expressions_have_no_bare_thresholds():
    """Numbers live in *.rules.yml; an alert compares with 0 at most."""
    for _path, rule in ALERTS:
        numbers = set(re.findall(r"(?<![\w.:\[])\d+(?:\.\d+)?(?![\w\]])", str(rule["expr"])))
        assert numbers <= {"0", "1"}, (
            f"{rule['alert']}: bare numbers {numbers} in expr; use aftercare:threshold:*"
        )


def test_every_unit_test_file_loads_its_areas_recording_rules():
    for path in unit_test_files():
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        area = path.name.removesuffix("_test.yml")
        assert f"../{area}.alerts.yml" in doc["rule_files"], path.name
        assert f"../{area}.rules.yml" in doc["rule_files"], path.name


def test_every_alert_file_is_unit_tested():
    loaded = set()
    for path in unit_test_files():
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for name in doc.get("rule_files") or []:
            target = (path.parent / name).resolve()
            assert target.exists(), f"{path.name}: rule file {name} does not exist"
            loaded.add(target)
    missing = [p.name for p in alert_files() if p.resolve() not in loaded]
    assert not missing, f"not loaded by any rules/tests/*.yml: {missing}"


# --- every alert ----------------------------------------------------------


@pytest.mark.parametrize("path,rule", ALERTS, ids=[rule["alert"] for _, rule in ALERTS])
def test_alert_conventions(path: Path, rule: dict):
    name = rule["alert"]
    labels = rule.get("labels") or {}
    annotations = rule.get("annotations") or {}

    severity = labels.get("severity")
    if name == DEAD_MANS_SWITCH:
        assert severity == "none", f"{name}: the dead man's switch has severity none"
        assert "for" not in rule, f"{name}: the dead man's switch fires at once"
    else:
        assert severity in SEVERITIES, f"{name}: severity {severity!r} not in {sorted(SEVERITIES)}"
        assert "for" in rule, (
            f"{name}: every alert but {DEAD_MANS_SWITCH} has a `for` (rules/README.md)"
        )

    assert labels.get("area") == area_of(path), (
        f"{name}: area label must be {area_of(path)!r} (its file)"
    )

    for key in REQUIRED_ANNOTATIONS:
        assert str(annotations.get(key, "")).strip(), f"{name}: annotation {key} missing or empty"

    url = annotations["runbook_url"]
    assert url == f"{RUNBOOK_BASE}{name}.md", f"{name}: runbook_url {url!r}"
    runbook = RUNBOOKS / url.removeprefix(RUNBOOK_BASE)
    assert runbook.is_file(), f"{name}: no runbook {runbook.relative_to(REPO)}"


def fired_severities() -> dict[str, set[str]]:
    """alertname -> severities some test expects firing."""
    seen: dict[str, set[str]] = {}
    for path in unit_test_files():
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in doc.get("tests") or []:
            for check in case.get("alert_rule_test") or []:
                for alert in check.get("exp_alerts") or []:
                    seen.setdefault(check["alertname"], set()).add(
                        alert["exp_labels"].get("severity")
                    )
                    assert alert.get("exp_annotations", {}).get("runbook_url"), (
                        f"{path.name}: {check['alertname']} at {check['eval_time']} "
                        "asserts no runbook_url"
                    )
    return seen


@pytest.mark.parametrize(
    "name,severity", sorted({(r["alert"], r["labels"]["severity"]) for _, r in ALERTS})
)
def test_alert_is_unit_tested(name: str, severity: str):
    outcomes = expected_outcomes().get(name, set())
    assert severity in fired_severities().get(name, set()), (
        f"{name}: no rules/tests/*.yml case expects its {severity} rule to fire"
    )
    if name != DEAD_MANS_SWITCH:
        assert "quiet" in outcomes, f"{name}: no rules/tests/*.yml case expects it not to fire"


# --- runbooks -------------------------------------------------------------


def template_headings() -> list[str]:
    text = (RUNBOOKS / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```markdown\n(.*?)```", text, re.DOTALL)
    assert block, "docs/runbooks/README.md has no ```markdown template block"
    return [line for line in block.group(1).splitlines() if line.startswith("## ")]


def runbook_files() -> list[Path]:
    return sorted(p for p in RUNBOOKS.glob("*.md") if p.name != "README.md")


@pytest.mark.parametrize("path", runbook_files(), ids=lambda p: p.name)
def test_runbook_follows_template(path: Path):
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == f"# {path.stem}", f"{path.name}: first line must be '# {path.stem}'"
    headings = [line for line in lines if line.startswith("## ")]
    assert headings == template_headings(), f"{path.name}: headings {headings}"


def test_no_orphan_runbooks():
    names = {rule["alert"] for _, rule in ALERTS}
    orphans = [p.name for p in runbook_files() if p.stem not in names]
    assert not orphans, f"runbooks without an alert: {orphans}"


# --- the monthly report links to these runbooks ---------------------------


def test_report_links_only_to_existing_alerts():
    """reportgen links each recommendation to the runbook of the alert watching it."""
    from reportgen import runbooks

    linked = set(runbooks.ALERT_FOR.values())
    assert linked
    names = {rule["alert"] for _, rule in ALERTS}
    assert linked <= names, f"report links to alerts that do not exist: {sorted(linked - names)}"


# --- the generated SLA rules ------------------------------------------------

SLA_FILE = RULES / "services.sla.rules.yml"


def test_committed_sla_rules_match_the_example_config(tmp_path):
    out = tmp_path / "sla.rules.yml"
    code = gen_rules.main(
        [
            "--config.file",
            str(REPO / "examples" / "aftercare.yml"),
            "--out",
            str(out),
            "--source-name",
            "examples/aftercare.yml",
        ]
    )
    assert code == 0
    assert out.read_text(encoding="utf-8") == SLA_FILE.read_text(encoding="utf-8"), (
        "rules/services.sla.rules.yml is stale: python -m scripts.gen_rules "
        "--config.file examples/aftercare.yml --source-name examples/aftercare.yml"
    )


def test_gen_rules_writes_each_systems_sla(tmp_path):
    cfg = tmp_path / "aftercare.yml"
    cfg.write_text("systems:\n  - {name: billing, sla: {response_time: 1500ms}}\n  - {name: crm}\n")
    out = tmp_path / "sla.rules.yml"
    assert gen_rules.main(["--config.file", str(cfg), "--out", str(out)]) == 0
    rules = yaml.safe_load(out.read_text())["groups"][0]["rules"]
    assert [(r["record"], r["expr"], r["labels"]) for r in rules] == [
        ("aftercare:sla_response_seconds", "vector(1.5)", {"system": "billing"}),
        ("aftercare:sla_response_seconds", "vector(2)", {"system": "crm"}),  # the schema's default
    ]
    result = run(promtool(), "check", "rules", str(out))
    assert result.returncode == 0, result.stdout + result.stderr


def test_gen_rules_bad_config_is_one_line_exit_2(tmp_path, capsys):
    cfg = tmp_path / "aftercare.yml"
    cfg.write_text("systems:\n  - {name: billing, sla: {response_time: fast}}\n")
    out = tmp_path / "sla.rules.yml"
    assert gen_rules.main(["--config.file", str(cfg), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert str(cfg) in err and "systems[0].sla.response_time" in err, err
    assert not out.exists()
