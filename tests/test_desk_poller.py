"""The Prometheus read: a real Prometheus fires two alerts to a real Alertmanager that has
one of them silenced; the webhook brings the other, the poll catches the silenced one, and
neither is stored twice (the fingerprints agree with Alertmanager's)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from desk.db import sessions
from desk.models import Incident
from desk.poller import fingerprint, poll_once
from devstack.alertmanager import Alertmanager
from devstack.prometheus import Prometheus
from reportgen.prom import PromClient
from tests.desk_fixtures import LiveDesk, desk_config
from tests.test_desk_intake import am_config, wait_for

RULES = """
groups:
  - name: desk
    rules:
      - alert: DeskLoud
        expr: vector(1)
        labels: {system: billing, severity: warning}
        annotations: {summary: "loud alert"}
      - alert: DeskSilenced
        expr: vector(1)
        labels: {system: billing, severity: critical}
        annotations: {summary: "静默的告警"}
"""


def silence(am: Alertmanager, alertname: str) -> None:
    now = datetime.now(UTC)
    body = {
        "matchers": [{"name": "alertname", "value": alertname, "isRegex": False, "isEqual": True}],
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat(),
        "createdBy": "test",
        "comment": "maintenance",
    }
    requests.post(f"{am.url}/api/v2/silences", json=body, timeout=10).raise_for_status()


def by_name(engine) -> dict[str, Incident]:
    with sessions(engine)() as db:
        return {i.alertname: i for i in db.query(Incident)}


@pytest.mark.parametrize("desk_url", ["sqlite"], indirect=True)
def test_the_poll_catches_what_alertmanager_never_sends(
    desk_app, desk_engine, token_file, tmp_path
):
    rules = tmp_path / "desk.rules.yml"
    rules.write_text(RULES)
    with LiveDesk(desk_app) as desk, Alertmanager(am_config(desk.address, token_file)) as am:
        silence(am, "DeskSilenced")
        with Prometheus(
            rule_files=[rules],
            alertmanagers=[am.address],
            extra_config={
                "global": {
                    "scrape_interval": "1s",
                    "evaluation_interval": "1s",
                    "external_labels": {"site": "sh"},
                }
            },
        ) as prom:
            client = PromClient(prom.url, retries=1, timeout=10)
            wait_for(lambda: len([a for a in client.alerts() if a["state"] == "firing"]) == 2)
            make_session = sessions(desk_engine)
            poll_once(client, make_session, desk_config())
            wait_for(
                lambda: (
                    by_name(desk_engine).get("DeskLoud") is not None
                    and by_name(desk_engine)["DeskLoud"].source == "alertmanager"
                ),
                timeout=30,
            )
            assert poll_once(client, make_session, desk_config()) == 0
            [sent] = [a for a in am.alerts() if a["labels"]["alertname"] == "DeskLoud"]
    incidents = by_name(desk_engine)
    assert sorted(incidents) == ["DeskLoud", "DeskSilenced"]
    assert incidents["DeskSilenced"].source == "prometheus"
    assert incidents["DeskSilenced"].severity == "critical"
    assert incidents["DeskSilenced"].customer == "acme"
    assert incidents["DeskSilenced"].title == "静默的告警"
    assert incidents["DeskLoud"].fingerprint == sent["fingerprint"] == fingerprint(sent["labels"])


def test_fingerprint_matches_alertmanagers_algorithm():
    # the value Alertmanager (prometheus/common model.LabelSet.Fingerprint) gives this set
    assert fingerprint({}) == "cbf29ce484222325"
    assert fingerprint({"a": "b"}) != fingerprint({"ab": ""})
