"""The desk's access rules: sessions, CSRF, throttling, customer isolation, inert payloads."""

from __future__ import annotations

import re

from desk.db import sessions
from desk.models import AuditEntry, Incident
from tests.desk_fixtures import PASSWORD, csrf_of, login
from tests.test_desk_intake import AUTH, notification

PAGES = [
    "/",
    "/?state=all",
    "/incidents/1",
    "/requests/new",
    "/kb?q=x",
    "/faq",
    "/faq.md",
    "/export/incidents.xlsx",
    "/export/incidents.csv",
    "/export/summary.xlsx",
    "/export/summary.csv",
]
API = ["/api/incidents", "/api/incidents/1", "/api/service-record"]
POSTS = [
    "/incidents/1/claim",
    "/incidents/1/notes",
    "/incidents/1/remedies",
    "/incidents/1/remedies/1/decision",
    "/incidents/1/resolve",
    "/requests/new",
    "/logout",
]
PAYLOADS = [
    "<script>alert('x')</script>",
    "'; DROP TABLE incidents; --",
    '" onmouseover="alert(1)',
    "1' OR '1'='1",
]


def feed(app, system: str, fingerprint: str) -> int:
    response = app.test_client().post(
        "/intake/alertmanager",
        headers=AUTH,
        json=notification(fingerprint=fingerprint, system=system),
    )
    assert response.status_code == 200
    return response.get_json()["new"]


def incident_ids(engine) -> dict[str, int]:
    with sessions(engine)() as db:
        return {i.system: i.id for i in db.query(Incident)}


def test_without_a_session_pages_redirect_and_the_api_is_401(desk_app):
    client = desk_app.test_client()
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    for path in API:
        assert client.get(path).status_code == 401, path
    token = csrf_of(client)
    for path in POSTS:
        assert client.post(path, data={"csrf": token}).status_code == 401, path


def test_forms_without_their_csrf_token_are_403(desk_app, desk_engine):
    feed(desk_app, "billing", "f1")
    client = login(desk_app, "eng")
    [incident_id] = incident_ids(desk_engine).values()
    for path in [
        f"/incidents/{incident_id}/claim",
        f"/incidents/{incident_id}/notes",
        "/requests/new",
        "/logout",
    ]:
        assert client.post(path, data={"body": "x"}).status_code == 403, path
        assert client.post(path, data={"body": "x", "csrf": "forged"}).status_code == 403
    anonymous = desk_app.test_client()
    anonymous.get("/login")
    assert (
        anonymous.post("/login", data={"username": "eng", "password": PASSWORD}).status_code == 403
    )
    with sessions(desk_engine)() as db:
        assert db.get(Incident, incident_id).claimed_by == ""


def test_a_customer_never_sees_another_customers_incident(desk_app, desk_engine):
    feed(desk_app, "billing", "f1")  # acme
    feed(desk_app, "crm", "f2")  # globex
    ids = incident_ids(desk_engine)
    alice = login(desk_app, "alice")
    assert alice.get(f"/incidents/{ids['billing']}").status_code == 200
    assert alice.get(f"/incidents/{ids['crm']}").status_code == 404
    assert alice.get(f"/api/incidents/{ids['crm']}").status_code == 404
    assert [i["system"] for i in alice.get("/api/incidents").get_json()] == ["billing"]
    assert (
        alice.post(
            f"/incidents/{ids['crm']}/notes", data={"body": "peek", "csrf": alice.csrf}
        ).status_code
        == 404
    )
    assert (
        alice.post(
            f"/incidents/{ids['crm']}/remedies/1/decision",
            data={"decision": "approve", "csrf": alice.csrf},
        ).status_code
        == 404
    )
    assert b"crm" not in alice.get("/export/incidents.csv").data
    assert (
        alice.post(f"/incidents/{ids['billing']}/claim", data={"csrf": alice.csrf}).status_code
        == 403
    )
    engineer = login(desk_app, "eng")
    assert {i["system"] for i in engineer.get("/api/incidents").get_json()} == {"billing", "crm"}


def test_login_is_throttled_and_cookies_are_flagged(desk_app):
    client = desk_app.test_client()
    token = csrf_of(client)
    for _ in range(5):
        assert (
            client.post(
                "/login", data={"username": "eng", "password": "wrong", "csrf": token}
            ).status_code
            == 401
        )
    blocked = client.post("/login", data={"username": "eng", "password": PASSWORD, "csrf": token})
    assert blocked.status_code == 429
    other = desk_app.test_client()
    token = csrf_of(other)
    response = other.post(
        "/login",
        data={"username": "alice", "password": PASSWORD, "csrf": token},
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_injection_and_script_payloads_are_stored_and_shown_inert(desk_app, desk_engine):
    feed(desk_app, "billing", "f1")
    [incident_id] = incident_ids(desk_engine).values()
    client = login(desk_app, "eng")
    for payload in PAYLOADS:
        assert (
            client.post(
                f"/incidents/{incident_id}/notes", data={"body": payload, "csrf": client.csrf}
            ).status_code
            == 303
        )
        assert (
            client.post(
                f"/incidents/{incident_id}/remedies",
                data={"proposal": payload, "csrf": client.csrf},
            ).status_code
            == 303
        )
        assert (
            client.post(
                "/requests/new",
                data={
                    "customer": "acme",
                    "system": payload,
                    "kind": "question",
                    "severity": "info",
                    "title": payload,
                    "csrf": client.csrf,
                },
            ).status_code
            == 303
        )
    page = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "'; DROP TABLE incidents; --".replace("'", "&#39;") in page
    listing = client.get("/").get_data(as_text=True)
    assert "<script>alert" not in listing and not re.search(r'" onmouseover="', listing)
    with sessions(desk_engine)() as db:
        titles = {i.title for i in db.query(Incident).filter(Incident.kind == "request")}
        assert titles == set(PAYLOADS)
        assert db.query(AuditEntry).filter(AuditEntry.action == "note").count() == len(PAYLOADS)
    search = client.get("/kb", query_string={"q": "<script>' OR 1=1 --"})
    assert search.status_code == 200 and "<script>'" not in search.get_data(as_text=True)


def test_login_redirects_only_to_this_site():
    from desk.web import local_target

    assert local_target("/incidents/3") == "/incidents/3"
    for target in ["//evil.example/", "/\\evil.example", "https://evil.example/", "/a b", ""]:
        assert local_target(target) == "/", target
