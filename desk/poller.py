"""The periodic read of Prometheus's firing alerts (the ALERTS series, with annotations and
activeAt from /api/v1/alerts): it opens the episodes Alertmanager never sends (silenced,
inhibited, or an Alertmanager that is down).

An episode is matched by Alertmanager's fingerprint of the alert's labels (with the
server's external labels, as Alertmanager sees them); when the webhook later brings the same
alert, the intake adopts the episode instead of opening another one.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .config import DeskConfig
from .intake import parse_time
from .models import Incident

log = logging.getLogger("aftercare.desk")
FNV_OFFSET, FNV_PRIME, MASK = 14695981039346656037, 1099511628211, 2**64 - 1


def fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's fingerprint of a label set: FNV-1a 64 over sorted names and values."""
    h = FNV_OFFSET
    for name in sorted(labels):
        for part in (name.encode(), labels[name].encode()):
            for byte in part + b"\xff":
                h = ((h ^ byte) * FNV_PRIME) & MASK
    return f"{h:016x}"


def external_labels(client) -> dict[str, str]:
    text = client.api("status/config").get("yaml", "")
    document = yaml.safe_load(text) or {}
    return dict((document.get("global") or {}).get("external_labels") or {})


def firing_alerts(client) -> list[dict[str, Any]]:
    """Prometheus's firing alerts, labelled as Alertmanager receives them."""
    extra = external_labels(client)
    out = []
    for alert in client.alerts():
        if alert.get("state") != "firing":
            continue
        labels = {**extra, **alert.get("labels", {})}
        out.append(
            {
                "fingerprint": fingerprint(labels),
                "labels": labels,
                "annotations": alert.get("annotations", {}),
                "starts_at": parse_time(alert.get("activeAt"), "activeAt") or datetime.now(UTC),
            }
        )
    return out


def store_polled(
    make_session: sessionmaker[Session], alerts: list[dict[str, Any]], config: DeskConfig
) -> int:
    """Open an episode for each firing alert that has none open; close the polled episodes
    that stopped firing.  The number opened."""
    firing = {a["fingerprint"]: a for a in alerts}
    opened = 0
    with make_session() as db:
        open_now = {
            i.fingerprint: i
            for i in db.scalars(
                select(Incident).where(
                    Incident.kind == "alert",
                    Incident.alert_ended_at.is_(None),
                    Incident.fingerprint.isnot(None),
                )
            )
        }
        for fp, alert in firing.items():
            if fp in open_now:
                continue
            labels = alert["labels"]
            system = labels.get("system", "")
            db.add(
                Incident(
                    kind="alert",
                    fingerprint=fp,
                    starts_at=alert["starts_at"],
                    alertname=labels.get("alertname", ""),
                    severity=labels.get("severity", "warning"),
                    system=system,
                    customer=labels.get("customer") or config.customer_of(system),
                    title=alert["annotations"].get("summary") or labels.get("alertname", ""),
                    labels=json.dumps(labels, sort_keys=True, ensure_ascii=False),
                    source="prometheus",
                    status="open",
                )
            )
            opened += 1
        now = datetime.now(UTC)
        for fp, incident in open_now.items():
            if incident.source == "prometheus" and fp not in firing:
                incident.alert_ended_at = now
        db.commit()
    return opened


def poll_once(client, make_session: sessionmaker[Session], config: DeskConfig) -> int:
    return store_polled(make_session, firing_alerts(client), config)


class Poller(threading.Thread):
    """Reads Prometheus every ``interval`` seconds until ``stop`` is set."""

    def __init__(
        self, config: DeskConfig, make_session: sessionmaker[Session], stop: threading.Event
    ):
        super().__init__(name="prometheus-poller", daemon=True)
        from reportgen.prom import PromClient

        self.client = PromClient(config.prometheus_url, timeout=10, retries=1)
        self.config, self.make_session, self.stop = config, make_session, stop

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                poll_once(self.client, self.make_session, self.config)
            except Exception as err:  # Prometheus or the database away: try next time
                log.warning("prometheus poll failed: %s", type(err).__name__)
            self.stop.wait(self.config.prometheus_poll_interval)
