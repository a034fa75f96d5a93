"""The contract figures of the report against a known month in a real Prometheus: slowness as
fault, maintenance windows, business hours, alerts folded by the shipped inhibit rules, alerts
across the month's edges; expectations computed here minute by minute from the samples."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from devstack.history import History, steps
from devstack.prometheus import Prometheus

SH = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC
REPO = Path(__file__).resolve().parent.parent
H_START = dt.datetime(2026, 10, 31, tzinfo=UTC).timestamp()
H_END = dt.datetime(2026, 12, 2, tzinfo=UTC).timestamp()
SLA_SECONDS = 2.0


def local(month, day, hour=0, minute=0) -> float:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=SH).timestamp()


START, END = local(11, 1), local(12, 1)
MINUTES = steps(H_START, H_END, 60)

# shop/web: an outage inside planned work, one outside it, a slow period, outages across
# both edges of the month
SHOP_DOWN = [
    (local(11, 3, 10), local(11, 3, 10, 30)),
    (local(11, 10, 14), local(11, 10, 14, 10)),
    (local(10, 31, 23, 50), local(11, 1, 0, 20)),
    (local(11, 30, 23, 50), local(12, 1, 0, 30)),
]
SHOP_SLOW = (local(11, 12, 9), local(11, 12, 9, 40))
PLANNED = (local(11, 3, 9, 50), local(11, 3, 10, 40))
# desk/app: business hours Mon-Fri 09:00-18:00, Nov 11 a holiday, slowness not a fault
DESK_DOWN = [
    (local(11, 11, 10), local(11, 11, 11)),  # holiday
    (local(11, 14, 10), local(11, 14, 12)),  # Saturday
    (local(11, 16, 8), local(11, 16, 10)),
]  # Monday: 09:00-10:00 counts
DESK_SLOW = (local(11, 17, 10), local(11, 17, 11))
DB_DOWN = (local(11, 20, 3), local(11, 20, 3, 10))
EXPORTER = {"job": "aftercare-database", "instance": "127.0.0.1:9851"}

CONFIG = """
systems:
  - name: shop
    timezone: Asia/Shanghai
    contract: {number: "HT-2026-017", service_period: "2026-01-01 to 2026-12-31"}
    sla: {availability: 0.999, response_time: 2s}
    maintenance: MAINTENANCE
    databases:
      - {name: pg, type: postgresql, dsn: "postgresql://monitor@127.0.0.1:5432/postgres"}
    services:
      - {name: web, http: {url: "http://127.0.0.1:1/health"}}
  - name: desk
    timezone: Asia/Shanghai
    sla:
      availability: 0.99
      response_time: 2s
      slow_is_fault: false
      hours: business
      business_hours: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "18:00",
                       holidays: [2026-11-11]}
    services:
      - {name: app, tcp: {address: "127.0.0.1:2"}}
"""


WINDOWS = (
    '[{from: "2026-11-03 09:50", to: "2026-11-03 10:40", reason: "database upgrade"}, '
    '{schedule: "0 2 * * sun", duration: 1h, reason: "weekly patching"}]'
)


def _alert(h: History, labels: dict, start: float, end: float) -> list[float]:
    times = steps(start, end, 60)
    h.add("ALERTS", {**labels, "alertstate": "firing"}, [(t, 1.0) for t in times])
    return times


def build_history() -> History:
    h = History()
    for system, service, downs, slow in (
        ("shop", "web", SHOP_DOWN, SHOP_SLOW),
        ("desk", "app", DESK_DOWN, DESK_SLOW),
    ):
        up, resp = [], []
        for t in MINUTES:
            down = any(a <= t < b for a, b in downs)
            up.append((t, 0.0 if down else 1.0))
            if not down:
                resp.append((t, 5.0 if slow[0] <= t < slow[1] else 0.3))
        labels = {"system": system, "service": service}
        h.add("aftercare_service_up", labels, up)
        h.add("aftercare_service_response_seconds", labels, resp)
    db = {"system": "shop", "database": "pg", **EXPORTER}
    h.add(
        "aftercare_database_up",
        db,
        [(t, 0.0 if DB_DOWN[0] <= t < DB_DOWN[1] else 1.0) for t in MINUTES],
    )

    down = {
        "alertname": "AftercareServiceDown",
        "severity": "critical",
        "area": "services",
        "system": "shop",
        "service": "web",
    }
    for a, b in SHOP_DOWN:
        _alert(h, down, a + 60, b)
    _alert(
        h,
        {
            "alertname": "AftercareServiceSlow",
            "severity": "warning",
            "area": "services",
            "system": "shop",
            "service": "web",
        },
        SHOP_SLOW[0] + 300,
        SHOP_SLOW[1],
    )
    # the database restart: its own alert, and three collectors failing while it is down
    _alert(
        h,
        {
            "alertname": "AftercareDatabaseDown",
            "severity": "critical",
            "area": "database",
            "system": "shop",
            "database": "pg",
            **EXPORTER,
        },
        DB_DOWN[0] + 60,
        DB_DOWN[1],
    )
    for collector in ("size", "activity", "replication"):
        _alert(
            h,
            {
                "alertname": "AftercareCollectorFailing",
                "severity": "warning",
                "area": "meta",
                "system": "shop",
                "target": "pg",
                "collector": collector,
                **EXPORTER,
            },
            DB_DOWN[0] + 120,
            DB_DOWN[1] + 240,
        )
    # a collector failing on its own later: an incident of its own
    _alert(
        h,
        {
            "alertname": "AftercareCollectorFailing",
            "severity": "warning",
            "area": "meta",
            "system": "shop",
            "target": "pg",
            "collector": "tables",
            **EXPORTER,
        },
        local(11, 25, 15),
        local(11, 25, 15, 30),
    )
    h.add(
        "ALERTS",
        {"alertname": "Watchdog", "severity": "none", "alertstate": "firing"},
        [(t, 1.0) for t in MINUTES],
    )
    return h


@pytest.fixture(scope="module")
def prom_history():
    h = build_history()
    prom = Prometheus(extra_args=["--storage.tsdb.retention.time=3650d"])
    try:
        h.backfill(str(prom.storage_path))
        prom.start()
        yield prom, h
    finally:
        prom.close()


def run_report(url: str, tmp_path: Path, config: str, *args):
    path = tmp_path / "aftercare.yml"
    path.write_text(config)
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "reportgen.cli",
        "--prometheus",
        url,
        "--config.file",
        str(path),
        "--out",
        str(out),
        "--quiet",
        "--no-previous",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=REPO), out


@pytest.fixture(scope="module")
def report(prom_history, tmp_path_factory):
    prom, _ = prom_history
    tmp = tmp_path_factory.mktemp("contract")
    result, out = run_report(
        prom.url,
        tmp,
        CONFIG.replace("MAINTENANCE", WINDOWS),
        "--period",
        "2026-11",
        "--format",
        "json",
        "--lang",
        "en",
    )
    assert result.returncode == 0, result.stderr
    assert [p.name for p in out.iterdir()] == ["aftercare-report-2026-11-en.json"]
    return json.loads((out / "aftercare-report-2026-11-en.json").read_text())


# -- independent expectations, minute by minute ---------------------------------------------


def sundays_at_two() -> list[tuple[float, float]]:
    out, day = [], dt.date(2026, 10, 25)
    while day <= dt.date(2026, 12, 6):
        if day.weekday() == 6:
            t = dt.datetime(day.year, day.month, day.day, 2, tzinfo=SH).timestamp()
            out.append((t, t + 3600))
        day += dt.timedelta(days=1)
    return out


def business(t: float) -> bool:
    moment = dt.datetime.fromtimestamp(t, SH)
    return moment.weekday() < 5 and moment.date() != dt.date(2026, 11, 11) and 9 <= moment.hour < 18


def expect(h: History, system: str, service: str, planned, counted, slow_is_fault: bool) -> dict:
    labels = {"system": system, "service": service}
    up = {t: v for t, v in h.get("aftercare_service_up", **labels) if START <= t < END}
    resp = dict(h.get("aftercare_service_response_seconds", **labels))
    slow = {t for t in up if resp.get(t, 0.0) > SLA_SECONDS}
    down = {t for t, v in up.items() if v == 0}
    fault = down | (slow if slow_is_fault else set())
    inside = {t for t in up if counted(t) and not any(a <= t < b for a, b in planned)}
    return {
        "fault_seconds": 60.0 * len(fault),
        "slow_seconds": 60.0 * len(slow),
        "contract_fault_seconds": 60.0 * len(fault & inside),
        "contract_availability_ratio": 1 - len(fault & inside) / len(inside),
        "availability_ratio": sum(up.values()) / len(up),
    }


def test_contract_availability_counts_slowness_and_skips_planned_work(report, prom_history):
    _, h = prom_history
    shop = report["systems"][0]
    web = shop["services"][0]
    planned = [PLANNED] + [
        (max(a, START), min(b, END)) for a, b in sundays_at_two() if a < END and b > START
    ]
    want = expect(h, "shop", "web", planned, lambda t: True, True)
    for key in ("fault_seconds", "slow_seconds", "contract_fault_seconds"):
        assert web[key] == want[key], key
    assert web["contract_availability_ratio"] == pytest.approx(
        want["contract_availability_ratio"], abs=1e-9
    )
    assert web["availability_ratio"] == pytest.approx(want["availability_ratio"], abs=1e-9)
    # the 30 min planned outage is excluded; 10 min down, 20 + 10 min at the edges, 40 min slow
    assert web["contract_fault_seconds"] == (10 + 20 + 10 + 40) * 60
    assert web["fault_seconds"] == (30 + 10 + 20 + 10 + 40) * 60
    assert web["contract_availability_ratio"] < web["availability_ratio"]
    assert web["sla_met"] is False and shop["sla_met"] is False
    assert web["maintenance_seconds"] == sum(b - a for a, b in planned)
    assert [(m["reason"], m["recurring"]) for m in shop["maintenance"]][:2] == [
        ("weekly patching", True),
        ("database upgrade", False),
    ]
    assert shop["maintenance"][1]["from"] == "2026-11-03T09:50:00+08:00"


def test_business_hours_and_slowness_not_a_fault(report, prom_history):
    _, h = prom_history
    app = report["systems"][1]["services"][0]
    want = expect(h, "desk", "app", [], business, False)
    assert app["fault_seconds"] == want["fault_seconds"] == (60 + 120 + 120) * 60
    assert app["slow_seconds"] == want["slow_seconds"] == 60 * 60
    assert app["contract_fault_seconds"] == want["contract_fault_seconds"] == 60 * 60
    assert app["contract_availability_ratio"] == pytest.approx(
        want["contract_availability_ratio"], abs=1e-9
    )
    assert report["systems"][1]["sla"]["hours"] == "business"


def test_incidents_fold_under_their_cause(report):
    shop = report["systems"][0]
    rows = [(i["alertname"], i["started"], len(i["folded"])) for i in shop["incidents"]]
    iso = lambda t: dt.datetime.fromtimestamp(t, SH).isoformat()  # noqa: E731
    # the outage that began before the month starts at its first sample inside it
    assert rows == [
        ("AftercareServiceDown", iso(START), 0),
        ("AftercareServiceDown", iso(SHOP_DOWN[0][0] + 60), 0),
        ("AftercareServiceDown", iso(SHOP_DOWN[1][0] + 60), 0),
        ("AftercareServiceSlow", iso(SHOP_SLOW[0] + 300), 0),
        ("AftercareDatabaseDown", iso(DB_DOWN[0] + 60), 3),
        ("AftercareCollectorFailing", iso(local(11, 25, 15)), 0),
        ("AftercareServiceDown", iso(SHOP_DOWN[3][0] + 60), 0),
    ]
    db = shop["incidents"][4]
    assert {f["labels"]["collector"] for f in db["folded"]} == {"size", "activity", "replication"}
    assert db["ended"] == iso(DB_DOWN[1] - 60) and db["duration_seconds"] == 8 * 60
    assert all(f["ended"] == iso(DB_DOWN[1] + 180) for f in db["folded"])
    assert shop["incidents"][-1]["ongoing"] is True and shop["incidents"][-1]["ended"] is None
    assert shop["incidents"][2]["duration_seconds"] == 8 * 60
    # the raw alert list is unchanged: every collector episode is still there
    assert sum(a["alertname"] == "AftercareCollectorFailing" for a in shop["alerts"]) == 4
    assert shop["stability"]["incidents"] == 7
    noisy = [r["target"] for r in shop["recommendations"] if r["key"] == "noisy_alert"]
    assert noisy == ["AftercareServiceDown"]  # four outages; the collectors are not noisy


def test_desk_slow_period_is_an_incident_without_an_alert(report):
    desk = report["systems"][1]
    slow = [i for i in desk["incidents"] if i["alertname"] == "AftercareServiceSlow"]
    assert len(slow) == 1 and slow[0]["measured"] is True
    assert slow[0]["started"] == dt.datetime.fromtimestamp(DESK_SLOW[0], SH).isoformat()
    assert slow[0]["duration_seconds"] == 3600


@pytest.mark.parametrize(
    "windows, needle",
    [
        (
            '[{from: "2026-11-03 10:00", to: "2026-11-03 09:00", reason: x}]',
            "maintenance[0].to: expected a time after from",
        ),
        (
            '[{from: "2026-11-03 09:00", to: "2026-11-03 11:00", reason: x},'
            ' {from: "2026-11-03 10:00", to: "2026-11-03 12:00", reason: y}]',
            "maintenance[1].from: overlaps maintenance window 0",
        ),
        ('[{schedule: "0 2 * * sun", reason: x}]', "maintenance[0].duration: required"),
    ],
)
def test_bad_maintenance_windows_exit_2_and_write_nothing(tmp_path, windows, needle):
    config = CONFIG.replace("MAINTENANCE", windows)
    result, out = run_report("http://127.0.0.1:9", tmp_path, config, "--period", "2026-11")
    assert result.returncode == 2, result.stderr
    assert needle in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not out.exists()


A4_WIDTH, A4_HEIGHT, MARGIN = 595.28, 841.89, 15 / 25.4 * 72  # points; @page margin 15 mm


def word_boxes(pdf: Path) -> list[tuple[int, float, float, float, float, str]]:
    """(page, xMin, yMin, xMax, yMax, word) of every word, from poppler's pdftotext -bbox."""
    import re

    html = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    out = []
    for page, body in enumerate(html.split("<page ")[1:], 1):
        for m in re.finditer(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" '
            r'yMax="([\d.]+)">([^<]*)</word>',
            body,
        ):
            out.append((page, *map(float, m.groups()[:4]), m.group(5)))
    return out


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_pdf_words_stay_inside_the_content_area(prom_history, tmp_path, lang):
    prom, _ = prom_history
    result, out = run_report(
        prom.url,
        tmp_path,
        CONFIG.replace("MAINTENANCE", WINDOWS),
        "--period",
        "2026-11",
        "--format",
        "pdf",
        "--lang",
        lang,
    )
    assert result.returncode == 0, result.stderr
    words = word_boxes(out / f"aftercare-report-2026-11-{lang}.pdf")
    assert len(words) > 500
    outside = [
        w
        for w in words
        if w[1] < MARGIN - 1
        or w[3] > A4_WIDTH - MARGIN + 1
        or w[2] < MARGIN - 1
        or w[4] > A4_HEIGHT - MARGIN + 1
    ]
    assert outside == []


def test_short_period_charts_by_hour_and_names_files_without_colons(prom_history, tmp_path):
    prom, _ = prom_history
    result, out = run_report(
        prom.url,
        tmp_path,
        CONFIG.replace("MAINTENANCE", WINDOWS),
        "--from",
        "2026-11-10T12:00:00",
        "--to",
        "2026-11-10T18:30:00",
        "--format",
        "json,html",
        "--lang",
        "en",
        "--system",
        "shop",
    )
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "aftercare-report-20261110T1200-20261110T1830-en.html",
        "aftercare-report-20261110T1200-20261110T1830-en.json",
    ]
    report = json.loads((out / names[1]).read_text())
    hourly = report["systems"][0]["services"][0]["hourly"]
    assert len(hourly) == 7
    assert hourly[2]["availability_ratio"] == pytest.approx(50 / 60)  # 14:00-14:10 down
    assert [h["availability_ratio"] for i, h in enumerate(hourly) if i != 2] == [1.0] * 6
    assert "Hourly availability" in (out / names[0]).read_text()


def test_checklist_judges_with_the_alert_thresholds(report):
    import yaml

    rules = yaml.safe_load((REPO / "rules" / "database.rules.yml").read_text())
    consts = {
        r["record"]: r["expr"]
        for g in rules["groups"]
        for r in g["rules"]
        if r["record"].startswith("aftercare:threshold:")
    }
    shop = {(c["area"], c["item"], c["target"]): c for c in report["systems"][0]["checklist"]}
    desk = {(c["area"], c["item"], c["target"]): c for c in report["systems"][1]["checklist"]}
    for c in list(shop.values()) + list(desk.values()):
        assert c["result"] in ("normal", "attention", "abnormal", "no_data")
        assert c["evidence"]["promql"] and c["evidence"]["graph"].startswith("/graph?g0.expr=")
    assert report["method"]["prometheus"].startswith("http://127.0.0.1:")
    web = shop[("services", "contract_availability", "web")]
    assert web["result"] == "abnormal" and web["threshold"] == 0.999
    assert web["value"] == report["systems"][0]["services"][0]["contract_availability_ratio"]
    pg_up = shop[("database", "database_up", "pg")]
    assert pg_up["result"] == "attention"  # the 10-minute restart
    assert pg_up["value"] == pytest.approx(1 - 10 / (30 * 1440), abs=1e-9)
    lag = shop[("database", "replication_lag", "pg")]
    assert lag["threshold"] == float(
        consts["aftercare:threshold:database_replication_lag_seconds"]
        .removeprefix("vector(")
        .removesuffix(")")
    )
    conn = shop[("database", "connections", "pg")]
    assert conn["threshold"] == 0.8 and conn["result"] == "no_data"
    app = desk[("services", "contract_availability", "app")]
    assert app["result"] == "normal" and app["threshold"] == 0.99
    assert desk[("services", "p95_response", "app")]["result"] == "attention"  # one slow hour


def test_written_assessment_quotes_the_json_figures(report):
    shop = report["systems"][0]
    web = shop["services"][0]
    for lang in ("en", "zh"):
        texts = shop["assessment"][lang]
        assert set(texts) == {"operation", "stability", "performance", "advice"}
        assert f"{web['contract_availability_ratio'] * 100:.3f}%" in texts["operation"]
        assert f"{web['availability_ratio'] * 100:.3f}%" in texts["operation"]
        assert f"{shop['stability']['incidents']} " in texts["stability"]
        assert f" {sum(len(i['folded']) for i in shop['incidents'])} " in texts["stability"]
        perf = shop["performance"]["services"][0]
        assert f"{perf['slow_seconds'] / 60:.0f}" in texts["performance"]
        assert report["overall"]["assessment"][lang]["operation"]
    assert "not met" in shop["assessment"]["en"]["operation"]
    assert "未达到" in shop["assessment"]["zh"]["operation"]


NOTES = """
shop:
  findings: "The database restarted on 20 November for an operating-system patch."
  work_done: ["Upgraded PostgreSQL to the latest minor release", "Cleaned the archive directory"]
  advice: Keep the patch window on Sunday night.
"""


def test_engineer_notes_go_into_the_document(prom_history, tmp_path):
    prom, _ = prom_history
    notes = tmp_path / "notes.yml"
    notes.write_text(NOTES)
    result, out = run_report(
        prom.url,
        tmp_path,
        CONFIG.replace("MAINTENANCE", WINDOWS),
        "--period",
        "2026-11",
        "--format",
        "json,html",
        "--lang",
        "en",
        "--notes",
        str(notes),
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "aftercare-report-2026-11-en.json").read_text())
    assert report["systems"][0]["engineer_notes"]["work_done"][1] == "Cleaned the archive directory"
    assert report["systems"][1]["engineer_notes"] is None
    html = (out / "aftercare-report-2026-11-en.html").read_text()
    assert "written by the service engineer" in html and "Keep the patch window" in html


@pytest.mark.parametrize(
    "text, needle",
    [
        ("nobody:\n  advice: x\n", "nobody: not a system of the report"),
        ("shop:\n  remarks: x\n", "shop.remarks: unknown key"),
        ("shop: [1, 2]\n", "shop: expected a mapping"),
    ],
)
def test_bad_notes_exit_2_and_write_nothing(tmp_path, text, needle):
    notes = tmp_path / "notes.yml"
    notes.write_text(text)
    result, out = run_report(
        "http://127.0.0.1:9",
        tmp_path,
        CONFIG.replace("MAINTENANCE", WINDOWS),
        "--period",
        "2026-11",
        "--notes",
        str(notes),
    )
    assert result.returncode == 2, result.stderr
    assert needle in result.stderr and str(notes) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not out.exists()


def test_docx_is_editable_word_with_the_json_figures(prom_history, tmp_path):
    import docx

    prom, _ = prom_history
    notes = tmp_path / "notes.yml"
    notes.write_text(NOTES)
    result, out = run_report(
        prom.url,
        tmp_path,
        CONFIG.replace("MAINTENANCE", WINDOWS),
        "--period",
        "2026-11",
        "--format",
        "json,docx",
        "--lang",
        "zh",
        "--notes",
        str(notes),
        "--prepared-by",
        "Li Lei",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "aftercare-report-2026-11-zh.json").read_text())
    document = docx.Document(str(out / "aftercare-report-2026-11-zh.docx"))
    headings = [
        (p.style.name, p.text) for p in document.paragraphs if p.style.name.startswith("Heading")
    ]
    assert ("Heading 1", "系统: shop") in headings and ("Heading 2", "巡检项") in headings
    tables = [[[c.text for c in row.cells] for row in table.rows] for table in document.tables]
    cover = dict(tables[0][1:])
    assert cover["合同编号"] == "shop: HT-2026-017" and cover["编制人"] == "Li Lei"
    assert cover["服务期限"] == "shop: 2026-01-01 to 2026-12-31"
    checklist = next(t for t in tables if t[0][:2] == ["领域", "检查项"])
    shop_items = report["systems"][0]["checklist"]
    assert len(checklist) - 1 == len(shop_items)
    web = next(r for r in checklist if r[1] == "合同可用率" and r[2] == "web")
    value = next(c for c in shop_items if c["item"] == "contract_availability")["value"]
    assert web[3] == f"{value * 100:.2f}%" and web[5] == "异常"
    availability = next(t for t in tables if t[0][:3] == ["名称", "SLA 目标", "合同可用率"])
    row = report["systems"][0]["services"][0]
    assert availability[1][2] == f"{row['contract_availability_ratio'] * 100:.3f}%"
    sign = tables[-1]
    assert [r[0] for r in sign] == ["单位", "服务方", "客户方"] and sign[0][1] == "签字及盖章"
    texts = "\n".join(p.text for p in document.paragraphs)
    assert "Cleaned the archive directory" in texts and "由服务工程师填写" in texts
    assert report["systems"][0]["assessment"]["zh"]["operation"] in texts
    footer = document.sections[0].footer._element.xml
    assert 'w:instr="PAGE"' in footer
    assert len(document.inline_shapes) == 2  # the two systems' availability charts
