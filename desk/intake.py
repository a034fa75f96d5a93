"""Alertmanager webhook intake: one incident per alert episode (fingerprint + startsAt).

Replays and an HA pair's duplicates find the episode already stored and change nothing but
its end time; a body that is not a webhook notification is refused whole.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from .config import DeskConfig
from .models import Incident, utcnow

RETRIES = 5
T = Incident.__table__
_SQLITE_WRITER = threading.Lock()
ZERO_TIME = "0001-01-01T00:00:00Z"


class BadNotification(ValueError):
    """The body is not an Alertmanager webhook notification; the message says where."""


def parse_time(value: Any, where: str) -> datetime | None:
    if value in (None, "", ZERO_TIME):
        return None
    if not isinstance(value, str):
        raise BadNotification(f"{where}: expected an RFC 3339 time")
    text = value.replace("Z", "+00:00")
    if "." in text:  # Go prints nanoseconds; Python reads at most microseconds
        head, _, tail = text.partition(".")
        digits = len(tail) - len(tail.lstrip("0123456789"))
        text = f"{head}.{tail[: min(digits, 6)]}{tail[digits:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise BadNotification(f"{where}: expected an RFC 3339 time, got {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise BadNotification(f"{where}: the time has no zone")
    return parsed.astimezone(UTC)


def _str_map(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise BadNotification(f"{where}: expected a mapping of strings")
    return value


def parse_notification(body: bytes) -> list[dict[str, Any]]:
    """The alerts of a webhook body, checked; BadNotification on anything malformed."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadNotification("the body is not JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("alerts"), list):
        raise BadNotification("expected a JSON object with a list under 'alerts'")
    alerts = []
    for i, alert in enumerate(doc["alerts"]):
        where = f"alerts[{i}]"
        if not isinstance(alert, dict):
            raise BadNotification(f"{where}: expected an object")
        if alert.get("status") not in ("firing", "resolved"):
            raise BadNotification(f"{where}.status: expected firing or resolved")
        fingerprint = alert.get("fingerprint")
        if not isinstance(fingerprint, str) or not 0 < len(fingerprint) <= 64:
            raise BadNotification(f"{where}.fingerprint: expected a string of 1 to 64 characters")
        starts = parse_time(alert.get("startsAt"), f"{where}.startsAt")
        if starts is None:
            raise BadNotification(f"{where}.startsAt: missing")
        alerts.append(
            {
                "status": alert["status"],
                "fingerprint": fingerprint,
                "starts_at": starts,
                "ends_at": parse_time(alert.get("endsAt"), f"{where}.endsAt"),
                "labels": _str_map(alert.get("labels", {}), f"{where}.labels"),
                "annotations": _str_map(alert.get("annotations", {}), f"{where}.annotations"),
            }
        )
    return alerts


def _new_row(alert: dict[str, Any], config: DeskConfig, source: str) -> dict[str, Any]:
    labels, annotations = alert["labels"], alert["annotations"]
    system = labels.get("system", "")
    ended = alert["ends_at"] if alert["status"] == "resolved" else None
    return dict(
        kind="alert",
        fingerprint=alert["fingerprint"],
        starts_at=alert["starts_at"],
        alert_ended_at=ended,
        alertname=labels.get("alertname", ""),
        severity=labels.get("severity", "warning"),
        system=system,
        customer=labels.get("customer") or config.customer_of(system),
        title=annotations.get("summary") or labels.get("alertname", ""),
        labels=json.dumps(labels, sort_keys=True, ensure_ascii=False),
        source=source,
        status="open",
        created_at=utcnow(),
        claimed_by="",
        root_cause="",
        resolution="",
        resolved_by="",
    )


def _store_one(conn: Connection, alert: dict[str, Any], config: DeskConfig, source: str) -> bool:
    """Store one alert; True when it opened a new episode.  An open episode that the
    Prometheus poll opened for the same fingerprint is adopted, not doubled."""
    fingerprint, starts = alert["fingerprint"], alert["starts_at"]
    row = conn.execute(
        select(T.c.id, T.c.starts_at, T.c.alert_ended_at)
        .where(
            T.c.fingerprint == fingerprint,
            or_(
                T.c.starts_at == starts,
                and_(T.c.source == "prometheus", T.c.alert_ended_at.is_(None)),
            ),
        )
        .order_by(T.c.starts_at != starts)
    ).first()
    if row is None:
        conn.execute(insert(T).values(**_new_row(alert, config, source)))
        return True
    changes: dict[str, Any] = {}
    if row.starts_at != starts:  # the poll's episode, now known to Alertmanager
        changes.update(starts_at=starts, source=source)
    if alert["status"] == "resolved" and alert["ends_at"] and row.alert_ended_at is None:
        changes["alert_ended_at"] = alert["ends_at"]
    if changes:
        conn.execute(update(T).where(T.c.id == row.id).values(**changes))
    return False


def store_alerts(
    engine: Engine, alerts: list[dict[str, Any]], config: DeskConfig, source: str = "alertmanager"
) -> int:
    """Store a notification's alerts in one transaction, retrying a locked database or a
    concurrent insert of the same episode; the number of new incidents.  On SQLite the
    writers of this process take turns (no busy-waiting on the file lock)."""
    delay = 0.05
    lock = _SQLITE_WRITER if engine.dialect.name == "sqlite" else contextlib.nullcontext()
    for attempt in range(RETRIES):
        try:
            with lock, engine.begin() as conn:
                return sum(_store_one(conn, alert, config, source) for alert in alerts)
        except IntegrityError:
            if attempt == RETRIES - 1:  # another writer stored the episode first: read again
                raise
        except OperationalError:
            if attempt == RETRIES - 1:
                raise
            time.sleep(delay)
            delay *= 2
    return 0
