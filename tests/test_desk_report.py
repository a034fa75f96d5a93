"""The monthly report's service record from the desk: read over the API with the report
token (or from the database) and rendered in both languages."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from desk.db import sessions
from desk.models import Incident
from desk.web import create_app
from reportgen.deskrecord import DeskError, from_api, from_database
from reportgen.render import render_html, render_md
from tests.desk_fixtures import LiveDesk, add_user, desk_config, login
from tests.test_desk_intake import AUTH, notification

FIXTURE = Path(__file__).parent / "fixtures" / "report" / "report-2026-10.json"
START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize("desk_url", ["sqlite"], indirect=True)
def test_service_record_over_the_api_and_in_the_report(desk_engine, tmp_path):
    (tmp_path / "intake.token").write_text("intake-secret-token")
    (tmp_path / "report.token").write_text("report-secret-token")
    config = desk_config(str(tmp_path / "intake.token"))
    config.report_token_file = str(tmp_path / "report.token")
    add_user(desk_engine, "eng", "engineer")
    add_user(desk_engine, "alice", "customer", "acme")
    app = create_app(config, desk_engine)
    app.test_client().post(
        "/intake/alertmanager", headers=AUTH, json=notification("oct", "2026-10-12T03:00:00Z")
    )
    with sessions(desk_engine)() as db:
        incident_id = db.query(Incident).one().id
    eng, alice = login(app, "eng"), login(app, "alice")
    base = f"/incidents/{incident_id}"
    eng.post(f"{base}/notes", data={"body": "备份任务因磁盘满失败", "csrf": eng.csrf})
    eng.post(f"{base}/remedies", data={"proposal": "扩容备份盘", "csrf": eng.csrf})
    remedy = alice.get(base).get_data(as_text=True).split("/remedies/")[1].split("/")[0]
    alice.post(
        f"{base}/remedies/{remedy}/decision", data={"decision": "approve", "csrf": alice.csrf}
    )
    with LiveDesk(app) as desk:
        with pytest.raises(DeskError, match="HTTP 401"):
            from_api(desk.url, "wrong-token", START, END)
        record = from_api(desk.url, "report-secret-token", START, END)
    assert record["totals"]["handled"] == 1 and record["open_items"] == [incident_id]
    [item] = record["incidents"]
    assert item["notes"][0]["body"] == "备份任务因磁盘满失败"
    assert item["approvals"][0]["decision"] == "approved"
    assert item["approvals"][0]["decided_by"] == "alice"
    assert from_database(str(desk_engine.url), START, END)["incidents"][0]["id"] == incident_id
    report = json.loads(FIXTURE.read_text())
    report["service_record"] = record
    html = render_html(report, "zh")
    assert "服务记录" in html and "备份任务因磁盘满失败" in html and "扩容备份盘" in html
    md = render_md(report, "en")
    assert "## Service record" in md and "1 handled, 0 resolved, 1 open" in md
    assert "Service record" not in render_md(json.loads(FIXTURE.read_text()), "en")


def test_report_flags_for_the_desk_are_checked():
    from reportgen.cli import main

    assert (
        main(
            [
                "--prometheus",
                "http://127.0.0.1:1",
                "--config.file",
                str(Path(__file__).parent / "fixtures" / "config" / "valid-minimal.yml"),
                "--desk",
                "http://127.0.0.1:1",
            ]
        )
        == 2
    )
