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

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "rules"
RULE_TESTS = RULES / "tests"
RUNBOOKS = REPO / "docs" / "runbooks"

RUNBOOK_BASE = "https://github.com/aftercare/aftercare/blob/main/docs/runbooks/"
AREAS = {"database", "service", "log", "integration", "exchange", "backup", "meta"}
SEVERITIES = {"critical", "warning", "info"}
REQUIRED_ANNOTATIONS = ("summary", "summary_zh", "description", "runbook_url")
DEAD_MANS_SWITCH = "Watchdog"


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool not found: apt-get install prometheus"
    return path


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=120)


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
    assert area in AREAS, f"{path.name}: file must be <area>.alerts.yml, area one of {sorted(AREAS)}"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    for group in doc["groups"]:
        assert group["name"] == f"aftercare-{area}", f"{path.name}: group {group['name']!r}"
        for rule in group["rules"]:
            assert "alert" in rule, f"{path.name}: recording rules belong in {area}.rules.yml: {rule}"


def test_alert_names_unique():
    names = [rule["alert"] for _, rule in ALERTS]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


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
        assert "for" in rule, f"{name}: every alert but {DEAD_MANS_SWITCH} has a `for` (rules/README.md)"

    assert labels.get("area") == area_of(path), f"{name}: area label must be {area_of(path)!r} (its file)"

    for key in REQUIRED_ANNOTATIONS:
        assert str(annotations.get(key, "")).strip(), f"{name}: annotation {key} missing or empty"

    url = annotations["runbook_url"]
    assert url == f"{RUNBOOK_BASE}{name}.md", f"{name}: runbook_url {url!r}"
    runbook = RUNBOOKS / url.removeprefix(RUNBOOK_BASE)
    assert runbook.is_file(), f"{name}: no runbook {runbook.relative_to(REPO)}"


@pytest.mark.parametrize("name", [rule["alert"] for _, rule in ALERTS])
def test_alert_is_unit_tested(name: str):
    outcomes = expected_outcomes().get(name, set())
    assert "firing" in outcomes, f"{name}: no rules/tests/*.yml case expects it to fire"
    if name != DEAD_MANS_SWITCH:
        assert "quiet" in outcomes, f"{name}: no rules/tests/*.yml case expects it not to fire"


# --- runbooks -------------------------------------------------------------

def template_headings() -> list[str]:
    text = (RUNBOOKS / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```markdown\n(.*?)```", text, re.S)
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
