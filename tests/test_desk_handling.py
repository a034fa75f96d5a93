"""Handling on both databases: claim, notes, remedy approval, resolution, times, audit,
the knowledge base and the XLSX/CSV exports read back."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from openpyxl import load_workbook

from desk.db import sessions
from desk.export import COLUMNS, incident_row
from desk.models import AuditEntry, Incident
from tests.desk_fixtures import login
from tests.test_desk_intake import AUTH, notification


def test_an_incident_from_claim_to_resolution(desk_app, desk_engine):
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    body = notification(starts=started.isoformat().replace("+00:00", "Z"))
    assert (
        desk_app.test_client().post("/intake/alertmanager", json=body, headers=AUTH).status_code
        == 200
    )
    with sessions(desk_engine)() as db:
        incident_id = db.query(Incident).one().id
    eng, alice = login(desk_app, "eng"), login(desk_app, "alice")
    base = f"/incidents/{incident_id}"
    assert eng.post(f"{base}/claim", data={"csrf": eng.csrf}).status_code == 303
    assert (
        eng.post(
            f"{base}/notes", data={"body": "备份目录磁盘已满，清理旧归档", "csrf": eng.csrf}
        ).status_code
        == 303
    )
    assert (
        eng.post(
            f"{base}/remedies", data={"proposal": "扩容备份卷到 2TB", "csrf": eng.csrf}
        ).status_code
        == 303
    )
    page = alice.get(base).get_data(as_text=True)
    assert "备份目录磁盘已满" in page and "扩容备份卷到 2TB" in page
    remedy_id = int(page.split("/remedies/")[1].split("/")[0])
    assert (
        eng.post(
            f"{base}/remedies/{remedy_id}/decision", data={"decision": "approve", "csrf": eng.csrf}
        ).status_code
        == 409
    )
    assert (
        alice.post(
            f"{base}/remedies/{remedy_id}/decision",
            data={"decision": "approve", "csrf": alice.csrf},
        ).status_code
        == 303
    )
    assert (
        eng.post(
            f"{base}/resolve",
            data={"root_cause": "capacity", "resolution": "扩容完成", "csrf": eng.csrf},
        ).status_code
        == 303
    )
    assert (
        eng.post(f"{base}/resolve", data={"root_cause": "capacity", "csrf": eng.csrf}).status_code
        == 409
    )
    with sessions(desk_engine)() as db:
        incident = db.get(Incident, incident_id)
        assert incident.status == "resolved" and incident.claimed_by == "eng"
        assert incident.root_cause == "capacity" and incident.resolved_by == "eng"
        [remedy] = incident.remedies
        assert (remedy.decision, remedy.decided_by) == ("approved", "alice")
        assert remedy.decided_at is not None
        tta = (incident.claimed_at - incident.starts_at).total_seconds()
        ttr = (incident.resolved_at - incident.starts_at).total_seconds()
        assert 1790 <= tta <= 1900 and tta <= ttr <= 1900
        actions = [
            a.action
            for a in db.query(AuditEntry).order_by(AuditEntry.id)
            if a.target.startswith(("incident", "remedy"))
        ]
        assert actions == ["claim", "note", "propose", "approved", "resolve"]
    api = eng.get(f"/api/incidents/{incident_id}").get_json()
    assert api["time_to_acknowledge_seconds"] == tta and api["time_to_resolve_seconds"] == ttr
    found = eng.get("/kb", query_string={"q": "磁盘已满"}).get_data(as_text=True)
    assert "backup missing" in found  # the resolved incident's notes are searchable


def test_overdue_first_and_service_requests(desk_app, desk_engine):
    client = desk_app.test_client()
    old = (datetime.now(UTC) - timedelta(days=2)).isoformat().replace("+00:00", "Z")
    new = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    client.post("/intake/alertmanager", json=notification("fresh", new), headers=AUTH)
    client.post("/intake/alertmanager", json=notification("stale", old), headers=AUTH)
    alice = login(desk_app, "alice")
    assert (
        alice.post(
            "/requests/new",
            data={
                "system": "billing",
                "kind": "data-cleanup",
                "severity": "info",
                "title": "清理 2019 年的日志表",
                "customer": "globex",
                "csrf": alice.csrf,
            },
        ).status_code
        == 303
    )
    listed = alice.get("/api/incidents").get_json()
    assert listed[0]["starts_at"].startswith(old[:10])  # the overdue one first
    [request] = [i for i in listed if i["kind"] == "request"]
    assert request["customer"] == "acme" and request["title"] == "清理 2019 年的日志表"
    assert "OVERDUE" in alice.get("/").get_data(as_text=True)


def test_exports_equal_the_database(desk_app, desk_engine):
    client = desk_app.test_client()
    for n in range(3):
        client.post(
            "/intake/alertmanager",
            headers=AUTH,
            json=notification(f"fp{n}", system=["billing", "crm", "billing"][n]),
        )
    eng = login(desk_app, "eng")
    eng.post(
        "/requests/new",
        data={
            "customer": "acme",
            "system": "billing",
            "kind": "question",
            "severity": "info",
            "title": '=HYPERLINK("x") 中文',
            "csrf": eng.csrf,
        },
    )
    with sessions(desk_engine)() as db:
        expected = [incident_row(i) for i in db.query(Incident).order_by(Incident.id)]
    book = load_workbook(io.BytesIO(eng.get("/export/incidents.xlsx").data))
    rows = [list(r) for r in book["incidents"].iter_rows(values_only=True)]
    assert rows[0] == list(COLUMNS)
    assert [[("" if v is None else v) for v in r] for r in rows[1:]] == [
        [("" if v is None else v) for v in r] for r in expected
    ]
    assert rows[4][6] == '\'=HYPERLINK("x") 中文'  # never run as a formula
    raw = eng.get("/export/incidents.csv").data
    assert raw.startswith(b"\xef\xbb\xbf")
    parsed = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert parsed[0] == list(COLUMNS) and len(parsed) == 5 and "中文" in parsed[4][6]
    alice = login(desk_app, "alice")
    mine = load_workbook(io.BytesIO(alice.get("/export/incidents.xlsx").data))["incidents"]
    assert {r[2] for r in mine.iter_rows(min_row=2, values_only=True)} == {"acme"}


def test_faq_ranks_recurring_alerts_with_runbook_and_latest_resolution(desk_app, desk_engine):
    from desk.models import KnowledgeDoc

    with sessions(desk_engine)() as db:
        db.add(
            KnowledgeDoc(
                source="runbook",
                ref="runbook:AftercareBackupMissing",
                title="AftercareBackupMissing",
                body="check the backup job",
            )
        )
        db.commit()
    client = desk_app.test_client()
    now = datetime.now(UTC)
    for n in range(3):
        starts = (now - timedelta(days=n)).isoformat().replace("+00:00", "Z")
        client.post("/intake/alertmanager", headers=AUTH, json=notification(f"b{n}", starts))
    old = (now - timedelta(days=120)).isoformat().replace("+00:00", "Z")
    client.post("/intake/alertmanager", headers=AUTH, json=notification("old", old))
    eng = login(desk_app, "eng")
    with sessions(desk_engine)() as db:
        newest = db.query(Incident).order_by(Incident.starts_at.desc()).first().id
    eng.post(
        f"/incidents/{newest}/resolve",
        data={"root_cause": "operation", "resolution": "重新启动备份任务", "csrf": eng.csrf},
    )
    document = eng.get("/faq.md").get_data(as_text=True)
    assert "| AftercareBackupMissing | 3 | AftercareBackupMissing | 重新启动备份任务 |" in document
    assert "| operation | 1 |  | 重新启动备份任务 |" in document
    assert "FAQ" in eng.get("/faq").get_data(as_text=True)
    alice_view = login(desk_app, "gary").get("/faq.md").get_data(as_text=True)
    assert "AftercareBackupMissing" not in alice_view  # globex has none of these


def test_service_record_and_the_months_summary(desk_app, desk_engine):
    client = desk_app.test_client()
    client.post(
        "/intake/alertmanager", headers=AUTH, json=notification("m1", "2026-11-03T08:00:00Z")
    )
    client.post(
        "/intake/alertmanager", headers=AUTH, json=notification("m0", "2026-10-03T08:00:00Z")
    )
    eng = login(desk_app, "eng")
    with sessions(desk_engine)() as db:
        november = db.query(Incident).filter(Incident.fingerprint == "m1").one().id
    eng.post(f"/incidents/{november}/notes", data={"body": "已联系客户", "csrf": eng.csrf})
    record = eng.get("/api/service-record?month=2026-11").get_json()
    # the October incident is still open, so it is an open item of November too
    assert record["totals"]["handled"] == 2 and record["totals"]["open"] == 2
    [item] = [i for i in record["incidents"] if i["id"] == november]
    assert [n["body"] for n in item["notes"]] == ["已联系客户"]
    assert eng.get("/api/service-record?month=2026-13").status_code == 400
    sheet = load_workbook(io.BytesIO(eng.get("/export/summary.xlsx?month=2026-11").data))
    assert len(list(sheet["incidents"].iter_rows())) == 3
    assert eng.get("/export/summary.csv?month=2026-11").data.startswith(b"\xef\xbb\xbf")
