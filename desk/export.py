"""Incidents to XLSX (openpyxl) and CSV (UTF-8 with a BOM, so Excel reads Chinese)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from openpyxl import Workbook

from .handling import time_to_acknowledge, time_to_resolve
from .models import Incident

COLUMNS = (
    "id",
    "kind",
    "customer",
    "system",
    "severity",
    "alertname",
    "title",
    "status",
    "starts_at",
    "claimed_by",
    "claimed_at",
    "resolved_at",
    "root_cause",
    "resolution",
    "time_to_acknowledge_seconds",
    "time_to_resolve_seconds",
)


def _text(value) -> str:
    """A cell's text; one that a spreadsheet would run as a formula is quoted."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def incident_row(incident: Incident) -> list:
    return [
        incident.id,
        incident.kind,
        incident.customer,
        incident.system,
        incident.severity,
        _text(incident.alertname),
        _text(incident.title),
        incident.status,
        incident.starts_at.isoformat(),
        incident.claimed_by,
        incident.claimed_at.isoformat() if incident.claimed_at else "",
        incident.resolved_at.isoformat() if incident.resolved_at else "",
        incident.root_cause,
        _text(incident.resolution),
        time_to_acknowledge(incident),
        time_to_resolve(incident),
    ]


def to_xlsx(incidents: Iterable[Incident]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("incidents")
    sheet.append(list(COLUMNS))
    for incident in incidents:
        sheet.append(incident_row(incident))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_csv(incidents: Iterable[Incident]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for incident in incidents:
        writer.writerow(["" if v is None else v for v in incident_row(incident)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
