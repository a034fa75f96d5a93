"""Handling an incident or request: claim, notes, remedies, resolution; each change audited."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .config import DeskConfig
from .models import AuditEntry, Incident, KnowledgeDoc, Note, Remedy, User, utcnow

ROOT_CAUSES = (
    "configuration",
    "capacity",
    "software-defect",
    "hardware",
    "network",
    "data",
    "operation",
    "third-party",
    "unknown",
)
REQUEST_KINDS = ("question", "data-cleanup", "environment-repair", "other")


class HandlingError(ValueError):
    """A step that does not apply to this incident now (shown to the user)."""


def audit(db: Session, actor: str, action: str, target: str = "", detail: str = "") -> None:
    db.add(AuditEntry(actor=actor, action=action, target=target, detail=detail[:2000]))


def claim(db: Session, incident: Incident, user: User) -> None:
    if incident.status == "resolved":
        raise HandlingError("the incident is resolved")
    if incident.claimed_by and incident.claimed_by != user.username:
        raise HandlingError(f"already claimed by {incident.claimed_by}")
    if not incident.claimed_by:
        incident.claimed_by, incident.claimed_at = user.username, utcnow()
        incident.status = "claimed"
        audit(db, user.username, "claim", f"incident:{incident.id}")


def add_note(db: Session, incident: Incident, user: User, body: str) -> Note:
    body = body.strip()
    if not body:
        raise HandlingError("the note is empty")
    note = Note(incident=incident, author=user.username, body=body)
    db.add(note)
    audit(db, user.username, "note", f"incident:{incident.id}", body)
    return note


def propose_remedy(db: Session, incident: Incident, user: User, proposal: str) -> Remedy:
    proposal = proposal.strip()
    if not proposal:
        raise HandlingError("the proposal is empty")
    if incident.status == "resolved":
        raise HandlingError("the incident is resolved")
    remedy = Remedy(incident=incident, proposal=proposal, proposed_by=user.username)
    db.add(remedy)
    audit(db, user.username, "propose", f"incident:{incident.id}", proposal)
    return remedy


def decide_remedy(db: Session, remedy: Remedy, user: User, approve: bool) -> None:
    """A customer user of the incident's customer approves or rejects a pending remedy."""
    if user.role != "customer" or user.customer != remedy.incident.customer:
        raise HandlingError("only a user of the customer decides on a remedy")
    if remedy.decision != "pending":
        raise HandlingError(f"the remedy is already {remedy.decision}")
    remedy.decision = "approved" if approve else "rejected"
    remedy.decided_by, remedy.decided_at = user.username, utcnow()
    audit(db, user.username, remedy.decision, f"remedy:{remedy.id}")


def resolve(db: Session, incident: Incident, user: User, root_cause: str, resolution: str) -> None:
    if incident.status == "resolved":
        raise HandlingError("the incident is already resolved")
    if root_cause not in ROOT_CAUSES:
        raise HandlingError(f"root cause: expected one of {', '.join(ROOT_CAUSES)}")
    if not incident.claimed_by:
        claim(db, incident, user)
    incident.root_cause, incident.resolution = root_cause, resolution.strip()
    incident.status, incident.resolved_by = "resolved", user.username
    incident.resolved_at = utcnow()
    audit(db, user.username, "resolve", f"incident:{incident.id}", root_cause)
    index_resolved(db, incident)


def index_resolved(db: Session, incident: Incident) -> None:
    """Put a resolved incident's title, root cause, resolution and notes in the knowledge base."""
    body = "\n".join(
        [f"root cause: {incident.root_cause}", incident.resolution]
        + [note.body for note in incident.notes]
    )
    ref = f"incident:{incident.id}"
    doc = db.scalars(select(KnowledgeDoc).where(KnowledgeDoc.ref == ref)).first()
    if doc is None:
        db.add(KnowledgeDoc(source="incident", ref=ref, title=incident.title, body=body))
    else:
        doc.title, doc.body = incident.title, body


def new_request(
    db: Session,
    user: User,
    customer: str,
    system: str,
    request_kind: str,
    title: str,
    severity: str = "info",
) -> Incident:
    """A service request that did not come from an alert, tracked like an incident."""
    if request_kind not in REQUEST_KINDS:
        raise HandlingError(f"kind: expected one of {', '.join(REQUEST_KINDS)}")
    if not title.strip():
        raise HandlingError("the title is empty")
    incident = Incident(
        kind="request",
        fingerprint=None,
        starts_at=utcnow(),
        alertname=request_kind,
        severity=severity,
        system=system.strip(),
        customer=customer,
        title=title.strip(),
        source=user.username,
    )
    db.add(incident)
    db.flush()
    audit(db, user.username, "request", f"incident:{incident.id}", title)
    return incident


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if start and end else None


def time_to_acknowledge(incident: Incident) -> float | None:
    return seconds_between(incident.starts_at, incident.claimed_at)


def time_to_resolve(incident: Incident) -> float | None:
    return seconds_between(incident.starts_at, incident.resolved_at)


def due_at(incident: Incident, config: DeskConfig) -> datetime | None:
    """When the next response is due: the claim, then the resolution; None once resolved."""
    from datetime import timedelta

    acknowledge, resolve_in = config.deadline(incident.severity)
    if incident.status == "resolved":
        return None
    if not incident.claimed_at:
        return incident.starts_at + timedelta(seconds=acknowledge)
    return incident.starts_at + timedelta(seconds=resolve_in)


def is_overdue(incident: Incident, config: DeskConfig, now: datetime | None = None) -> bool:
    due = due_at(incident, config)
    return due is not None and due < (now or datetime.now(UTC))
