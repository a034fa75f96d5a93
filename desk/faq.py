"""The FAQ: alerts, root causes and requests ranked by how often they recurred in the last
90 days, each with its runbook and latest resolution; also a Markdown document to publish."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import Incident, KnowledgeDoc

DAYS = 90


@dataclass
class Entry:
    name: str
    count: int
    runbook: str = ""
    latest_resolution: str = ""


def _latest_resolution(db: Session, visible, column, name: str) -> str:
    row = db.scalars(
        select(Incident.resolution)
        .where(visible, column == name, Incident.status == "resolved", Incident.resolution != "")
        .order_by(Incident.resolved_at.desc())
        .limit(1)
    ).first()
    return row or ""


def _ranked(db: Session, visible, since, column, *where) -> list[tuple[str, int]]:
    count = func.count(Incident.id)
    query = (
        select(column, count)
        .where(visible, Incident.starts_at >= since, column != "", *where)
        .group_by(column)
        .order_by(count.desc(), column)
        .limit(20)
    )
    return [(name, n) for name, n in db.execute(query)]


def build(db: Session, visible, now: datetime | None = None) -> dict[str, list[Entry]]:
    since = (now or datetime.now(UTC)) - timedelta(days=DAYS)
    runbooks = {
        ref.split(":", 1)[1]: title
        for ref, title in db.execute(
            select(KnowledgeDoc.ref, KnowledgeDoc.title).where(KnowledgeDoc.source == "runbook")
        )
    }
    alerts = [
        Entry(
            name,
            n,
            runbooks.get(name, ""),
            _latest_resolution(db, visible, Incident.alertname, name),
        )
        for name, n in _ranked(db, visible, since, Incident.alertname, Incident.kind == "alert")
    ]
    causes = [
        Entry(name, n, "", _latest_resolution(db, visible, Incident.root_cause, name))
        for name, n in _ranked(db, visible, since, Incident.root_cause)
    ]
    requests = [
        Entry(name, n, "", _latest_resolution(db, visible, Incident.alertname, name))
        for name, n in _ranked(db, visible, since, Incident.alertname, Incident.kind == "request")
    ]
    return {"alerts": alerts, "root causes": causes, "requests": requests}


def to_markdown(sections: dict[str, list[Entry]]) -> str:
    """The FAQ as a Markdown document (one table per section)."""

    def cell(text: str) -> str:
        return " ".join(text.split()).replace("|", "\\|")

    out = [f"# Frequently seen in the last {DAYS} days", ""]
    for title, entries in sections.items():
        out += [
            f"## {title.capitalize()}",
            "",
            "| name | times | runbook | latest resolution |",
            "| --- | --- | --- | --- |",
        ]
        out += [
            f"| {cell(e.name)} | {e.count} | {cell(e.runbook)} | {cell(e.latest_resolution)} |"
            for e in entries
        ]
        out.append("")
    return "\n".join(out)
