"""A period's service record: the incidents and requests handled, their notes, approvals,
times to acknowledge and resolve, the items still open and the FAQ's top entries.  The
monthly report reads it from /api/service-record; the month's summary exports it."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from . import faq
from .handling import time_to_acknowledge, time_to_resolve
from .models import Incident


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """'2026-11' -> the first instants of that month and the next (UTC); ValueError if not."""
    year, _, number = month.partition("-")
    start = datetime(int(year), int(number), 1, tzinfo=UTC)
    end = datetime(start.year + (start.month == 12), start.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def service_record(db: Session, visible, start: datetime, end: datetime) -> dict:
    handled = list(
        db.scalars(
            select(Incident)
            .where(
                visible,
                Incident.starts_at < end,
                or_(
                    Incident.starts_at >= start,
                    Incident.status != "resolved",
                    Incident.resolved_at >= start,
                ),
            )
            .options(selectinload(Incident.notes), selectinload(Incident.remedies))
            .order_by(Incident.starts_at)
        )
    )
    tta = [t for t in map(time_to_acknowledge, handled) if t is not None]
    ttr = [t for t in map(time_to_resolve, handled) if t is not None]
    items = [
        {
            "id": i.id,
            "kind": i.kind,
            "customer": i.customer,
            "system": i.system,
            "severity": i.severity,
            "alertname": i.alertname,
            "title": i.title,
            "status": i.status,
            "starts_at": i.starts_at.isoformat(),
            "root_cause": i.root_cause,
            "resolution": i.resolution,
            "time_to_acknowledge_seconds": time_to_acknowledge(i),
            "time_to_resolve_seconds": time_to_resolve(i),
            "notes": [
                {"author": n.author, "at": n.created_at.isoformat(), "body": n.body}
                for n in i.notes
            ],
            "approvals": [
                {
                    "proposal": r.proposal,
                    "decision": r.decision,
                    "decided_by": r.decided_by,
                    "decided_at": r.decided_at.isoformat() if r.decided_at else None,
                }
                for r in i.remedies
            ],
        }
        for i in handled
    ]
    sections = faq.build(db, visible, end)
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "incidents": items,
        "totals": {
            "handled": len(items),
            "resolved": sum(i["status"] == "resolved" for i in items),
            "open": sum(i["status"] != "resolved" for i in items),
            "median_time_to_acknowledge_seconds": _median(tta),
            "median_time_to_resolve_seconds": _median(ttr),
        },
        "open_items": [i["id"] for i in items if i["status"] != "resolved"],
        "faq": {
            title: [{"name": e.name, "count": e.count} for e in entries]
            for title, entries in sections.items()
        },
    }
