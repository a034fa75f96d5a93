"""The inspection areas: one table naming each area and where it lives in every part.

An area's name is the word that runs through the product: the exporter that
serves it, its rule files (``rules/<rules>.rules.yml``, ``<rules>.alerts.yml``,
the ``area`` label of its alerts), its dashboard, its docs page and its
section of the monthly report.  Where a part spells the area differently
(the config key ``databases`` of the ``database`` area, the report grade
``protection`` of the ``backups`` section) the table writes the mapping
down; nothing is renamed.

Plain data only: importing this module loads no driver, so the exporters'
registry, the dashboards and the report generator all read it.

The ``hosts`` area has no exporter of ours: Prometheus scrapes each host's
node_exporter (job ``node``) from the targets ``aftercare-exporter targets``
writes, so its ``exporter``, ``classes`` and ``port`` are empty.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InspectionArea:
    """One inspection area of the support contract and its name in each part of Aftercare."""

    name: str  # the area name: rules/<name>.*, the alerts' `area` label
    summary: str  # what the area watches, in a few words
    config_key: str  # its list in aftercare.yml (systems[].<config_key>)
    exporter: str | None  # the `aftercare-exporter AREA` that serves it (None: node_exporter)
    classes: tuple[str, ...]  # its Area classes ("module:Class"), imported only when served
    target_label: str  # the label naming one watched target
    port: int | None  # default --web.listen-address port of its exporter
    dashboard: str  # dashboards/<dashboard>.dashboard.py
    docs: str  # its docs page, relative to the repository
    report_section: str | None  # the report section named after it, if it has one

    @property
    def rules_file(self) -> str:
        return f"rules/{self.name}.rules.yml"

    @property
    def alerts_file(self) -> str:
        return f"rules/{self.name}.alerts.yml"

    @property
    def dashboard_uid(self) -> str:
        return f"aftercare-{self.dashboard}"

    @property
    def dashboard_file(self) -> str:
        return f"dashboards/generated/{self.dashboard_uid}.json"


AREAS: tuple[InspectionArea, ...] = (
    InspectionArea(
        "database",
        "space, performance, exception records",
        "databases",
        "database",
        ("exporters.database:DatabaseArea", "exporters.logs.areas:DatabaseLogArea"),
        "database",
        9851,
        "database",
        "docs/database.md",
        None,
    ),
    InspectionArea(
        "services",
        "reachable, running, fast",
        "services",
        "services",
        ("exporters.services:ServicesArea",),
        "service",
        9852,
        "services",
        "docs/services.md",
        None,
    ),
    InspectionArea(
        "logs",
        "run logs of the application server",
        "logs",
        "services",
        ("exporters.logs.areas:LogSourcesArea",),
        "source",
        9852,
        "services",
        "docs/logs.md",
        "logs",
    ),
    InspectionArea(
        "integrations",
        "links between systems",
        "integrations",
        "integrations",
        ("exporters.integrations:IntegrationsArea",),
        "integration",
        9853,
        "integrations",
        "docs/integrations.md",
        None,
    ),
    InspectionArea(
        "exchange",
        "data-exchange and report-submission jobs",
        "exchange",
        "exchange",
        ("exporters.exchange:ExchangeArea", "exporters.logs.areas:ExchangeLogArea"),
        "exchange",
        9854,
        "exchange",
        "docs/exchange.md",
        "exchange",
    ),
    InspectionArea(
        "backups",
        "made, automatic, usable",
        "backups",
        "backups",
        ("exporters.backups:BackupsArea",),
        "backup",
        9855,
        "backups",
        "docs/backups.md",
        "backups",
    ),
    InspectionArea(
        "hosts",
        "CPU, memory, disks and clock of the servers",
        "hosts",
        None,
        (),
        "host",
        None,
        "hosts",
        "docs/hosts.md",
        None,
    ),
)

BY_NAME: dict[str, InspectionArea] = {area.name: area for area in AREAS}
ALL_PORT = 9850
"""Default port of ``aftercare-exporter all``, which serves every area."""


def exporters() -> dict[str, tuple[str, ...]]:
    """Exporter name -> the Area classes it serves, in area order."""
    out: dict[str, tuple[str, ...]] = {}
    for area in AREAS:
        if area.exporter:
            out[area.exporter] = out.get(area.exporter, ()) + area.classes
    return out


def exporter_areas(exporter: str) -> list[str]:
    """The names of the areas one exporter serves (every area for ``all``)."""
    return [a.name for a in AREAS if a.exporter and exporter in ("all", a.exporter)]


def dashboard_areas(dashboard: str) -> list[str]:
    """The names of the areas one dashboard shows."""
    return [a.name for a in AREAS if a.dashboard == dashboard]


@dataclass(frozen=True)
class ReportSection:
    """One section of the monthly report and the areas whose figures it reads."""

    key: str  # the section's name: step, module, message ``area.<key>``
    covers: tuple[str, ...]  # the areas it reads
    grade_key: str  # its key in the report JSON (area_grades, previous.areas)


# In the report's order.  Sections named after an area read that area (and, for backups,
# the database area's WAL archiving); the others cut across areas.
REPORT_SECTIONS: tuple[ReportSection, ...] = (
    ReportSection("availability", ("services", "integrations", "database"), "availability"),
    ReportSection("stability", tuple(a.name for a in AREAS), "stability"),
    ReportSection("performance", ("services", "logs", "database"), "performance"),
    ReportSection("capacity", ("database",), "capacity"),
    ReportSection("backups", ("backups", "database"), "protection"),
    ReportSection("exchange", ("exchange",), "exchange"),
    ReportSection("logs", ("logs",), "logs"),
)

SECTION_BY_GRADE_KEY: dict[str, ReportSection] = {s.grade_key: s for s in REPORT_SECTIONS}
GRADE_KEYS: dict[str, str] = {s.key: s.grade_key for s in REPORT_SECTIONS}
"""Section name -> its key in the report JSON (only ``backups`` differs: ``protection``)."""
