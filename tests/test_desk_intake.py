"""Alertmanager webhook intake: real Alertmanagers (an HA pair, unclustered, so both send)
post to the desk; one incident per episode, replays and duplicates change nothing."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from desk.db import make_engine, sessions
from desk.models import Incident
from desk.web import create_app
from devstack.alertmanager import Alertmanager
from tests.desk_fixtures import LiveDesk, desk_config

TOKEN = "intake-secret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def am_config(desk_address: str, token_path: str) -> str:
    return f"""
route:
  receiver: desk
  group_by: [alertname, system]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: desk
    webhook_configs:
      - url: http://{desk_address}/intake/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials_file: {token_path}
"""


def count(engine) -> int:
    with sessions(engine)() as db:
        return db.scalar(select(func.count()).select_from(Incident))


def wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def incidents(engine) -> list[Incident]:
    with sessions(engine)() as db:
        return list(db.scalars(select(Incident).order_by(Incident.id)))


# PostgreSQL, where the pair's two inserts of one episode can really race (the browser test
# has a real Alertmanager feed SQLite)
@pytest.mark.parametrize("desk_url", ["postgresql"], indirect=True)
def test_real_alertmanager_pair_feeds_one_incident_per_episode(desk_app, desk_engine, token_file):
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    alert = {
        "labels": {
            "alertname": "AftercareDatabaseDown",
            "system": "billing",
            "severity": "critical",
            "database": "main",
        },
        "annotations": {"summary": "数据库 main 不可用"},
        "startsAt": started.isoformat().replace("+00:00", "Z"),
    }
    with LiveDesk(desk_app) as desk:
        config = am_config(desk.address, token_file)
        with Alertmanager(config) as first, Alertmanager(config) as second:
            first.post_alerts([alert])
            second.post_alerts([alert])
            wait_for(lambda: count(desk_engine) == 1)
            time.sleep(1.5)  # both have sent, and re-sent on the interval
            [incident] = incidents(desk_engine)
            assert (incident.alertname, incident.system, incident.customer) == (
                "AftercareDatabaseDown",
                "billing",
                "acme",
            )
            assert incident.severity == "critical" and incident.title == "数据库 main 不可用"
            assert incident.starts_at == started and incident.alert_ended_at is None
            ended = datetime.now(UTC).replace(microsecond=0)
            resolved = dict(alert, endsAt=ended.isoformat().replace("+00:00", "Z"))
            first.post_alerts([resolved])
            second.post_alerts([resolved])
            wait_for(lambda: incidents(desk_engine)[0].alert_ended_at is not None)
            time.sleep(1.5)
    [incident] = incidents(desk_engine)
    assert incident.alert_ended_at == ended and incident.status == "open"


def notification(
    fingerprint="a1b2c3", starts="2026-11-30T10:00:00.123456789Z", status="firing", system="billing"
) -> dict:
    return {
        "version": "4",
        "status": status,
        "receiver": "desk",
        "alerts": [
            {
                "status": status,
                "fingerprint": fingerprint,
                "startsAt": starts,
                "endsAt": "0001-01-01T00:00:00Z",
                "labels": {
                    "alertname": "AftercareBackupMissing",
                    "system": system,
                    "severity": "warning",
                },
                "annotations": {"summary": "backup missing"},
            }
        ],
    }


def test_replays_change_nothing_and_a_new_start_is_a_new_episode(desk_app, desk_engine):
    client = desk_app.test_client()
    body = notification()
    for _ in range(3):
        response = client.post("/intake/alertmanager", json=body, headers=AUTH)
        assert response.status_code == 200
    assert response.get_json() == {"stored": 1, "new": 0}
    assert count(desk_engine) == 1
    again = client.post(
        "/intake/alertmanager", headers=AUTH, json=notification(starts="2026-11-30T12:00:00Z")
    )
    assert again.get_json()["new"] == 1 and count(desk_engine) == 2


MALFORMED = [
    b"not json",
    b"[]",
    b'{"alerts": 3}',
    b'{"alerts": [{"status": "firing"}]}',
    json.dumps(notification(starts="yesterday")).encode(),
    json.dumps({"alerts": [notification()["alerts"][0], {"status": "odd"}]}).encode(),
]


def test_malformed_body_is_400_and_stores_nothing(desk_app, desk_engine):
    client = desk_app.test_client()
    for body in MALFORMED:
        response = client.post(
            "/intake/alertmanager", data=body, headers=AUTH, content_type="application/json"
        )
        assert response.status_code == 400 and response.get_json()["error"], body
    assert count(desk_engine) == 0


def test_intake_needs_the_token(desk_app, desk_engine):
    client = desk_app.test_client()
    assert client.post("/intake/alertmanager", json=notification()).status_code == 401
    assert (
        client.post(
            "/intake/alertmanager", json=notification(), headers={"Authorization": "Bearer wrong"}
        ).status_code
        == 401
    )
    assert count(desk_engine) == 0


def test_a_locked_sqlite_database_is_waited_for_and_nothing_lost(tmp_path):
    from desk.db import migrate

    path = tmp_path / "locked.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    app = create_app(desk_config(), engine)
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN EXCLUSIVE")
    threading.Timer(1.5, lambda: blocker.execute("COMMIT")).start()
    began = time.monotonic()
    response = app.test_client().post("/intake/alertmanager", json=notification())
    assert response.status_code == 200 and time.monotonic() - began >= 1.0
    assert count(engine) == 1
    blocker.close()


def test_ready_says_not_ready_when_the_database_is_gone():
    from desk.db import migrate
    from tests.desk_fixtures import _pg_admin

    _pg_admin("CREATE DATABASE desk_test_gone")
    try:
        engine = make_engine("postgresql+psycopg2://postgres@127.0.0.1:5432/desk_test_gone")
        migrate(engine)
        client = create_app(desk_config(), engine).test_client()
        assert client.get("/-/ready").status_code == 200
    finally:
        _pg_admin("DROP DATABASE IF EXISTS desk_test_gone WITH (FORCE)")
    response = client.get("/-/ready")
    assert response.status_code == 503 and b"Not ready" in response.data
    engine.dispose()
