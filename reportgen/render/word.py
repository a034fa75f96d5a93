"""The editable DOCX (python-docx) from the same report data as the HTML and PDF.

Real Word headings and tables, charts as images, page numbers in the footer, a cover
with the contract and the period, the engineer's notes marked as theirs, and a sign-off
table for both parties.  Every text and table stays editable in Word.
"""

from __future__ import annotations

import io
from importlib import metadata

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from . import charts
from .fmt import by_unit, dur, num, pct, secs, when
from .messages import catalogue

QUESTIONS = ("operation", "stability", "performance", "advice")
CJK_FONT = "WenQuanYi Micro Hei"


def _version() -> str:
    try:
        return metadata.version("aftercare")
    except metadata.PackageNotFoundError:
        return "unknown"


def _page_number_footer(section, t) -> None:
    """A centred "page N" in the footer: a PAGE field that Word keeps up to date."""
    paragraph = section.footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    field.append(run)
    paragraph.add_run(t("docx.page") + " ")
    paragraph._p.append(field)


def _table(doc, header: list[str], rows: list[list[str]], widths: list[float] | None = None):
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(text).bold = True
    for values in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, values, strict=False):
            cell.text = "" if value is None else str(value)
    if widths:
        for row in table.rows:
            for cell, width in zip(row.cells, widths, strict=False):
                cell.width = Cm(width)
    doc.add_paragraph()
    return table


def _fonts(doc) -> None:
    style = doc.styles["Normal"]
    style.font.name = "DejaVu Sans"
    style.font.size = Pt(9.5)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), CJK_FONT)
    for level in (1, 2, 3):
        heading = doc.styles[f"Heading {level}"]
        heading.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), CJK_FONT)


def _cover(doc, report: dict, t, prepared_by: str) -> None:
    doc.add_heading(t("title"), level=0)
    contracts = [(s["name"], s.get("contract")) for s in report["systems"]]
    rows = [
        [t("customer"), ", ".join(report["customers"]) or "—"],
        [t("systems"), ", ".join(s["name"] for s in report["systems"])],
        [
            t("docx.contract"),
            "; ".join(f"{name}: {c['number']}" for name, c in contracts if c) or "—",
        ],
        [
            t("docx.service_period"),
            "; ".join(
                f"{name}: {c['service_period']}"
                for name, c in contracts
                if c and c.get("service_period")
            )
            or "—",
        ],
        [
            t("period"),
            f"{report['period']['from'][:10]} — {report['period']['to'][:10]} "
            f"({report['period']['label']}, {report['period']['timezone']})",
        ],
        [t("docx.version"), f"aftercare-report {_version()}"],
        [t("docx.prepared_by"), prepared_by or "—"],
        [t("generated"), report["generated_at"]],
    ]
    _table(doc, [t("docx.item"), t("docx.detail")], rows, [4.5, 12])


def _summary(doc, report: dict, t, lang: str) -> None:
    doc.add_heading(t("summary"), level=1)
    rows = []
    for s in report["systems"]:
        worst = [
            r.get("contract_availability_ratio")
            for r in s["services"]
            if r.get("contract_availability_ratio") is not None
        ]
        rows.append(
            [
                s["name"],
                t(s["grade"]),
                pct(min(worst)) if worst else "—",
                t("no_data") if s["sla_met"] is None else t("yes" if s["sla_met"] else "no"),
            ]
        )
    _table(doc, [t("system"), t("grade"), t("contract_availability"), t("sla_met")], rows)
    assessment = report["overall"].get("assessment")
    if assessment:
        doc.add_heading(t("overall_assessment"), level=2)
        for q in QUESTIONS:
            _labelled(doc, t(f"q.{q}"), assessment[lang][q])


def _labelled(doc, label: str, text: str) -> None:
    paragraph = doc.add_paragraph()
    paragraph.add_run(f"{label}: ").bold = True
    paragraph.add_run(text)


def _system(doc, s: dict, t, lang: str) -> None:
    doc.add_heading(f"{t('system')}: {s['name']}", level=1)
    if s.get("assessment"):
        doc.add_heading(t("assessment"), level=2)
        for q in QUESTIONS:
            _labelled(doc, t(f"q.{q}"), s["assessment"][lang][q])
    doc.add_heading(f"{t('engineer_notes')} ({t('engineer_mark')})", level=2)
    notes = s.get("engineer_notes") or {}
    for key in ("findings", "work_done", "advice"):
        doc.add_paragraph().add_run(t(f"note.{key}")).bold = True
        for text in notes.get(key) or [""]:  # an empty paragraph to write into
            run = doc.add_paragraph().add_run(text)
            run.font.color.rgb = RGBColor(0x6C, 0x34, 0x83)
    if s.get("checklist"):
        doc.add_heading(t("checklist"), level=2)
        _table(
            doc,
            [
                t("area"),
                t("check_item"),
                t("target"),
                t("check_value"),
                t("check_threshold"),
                t("check_result"),
            ],
            [
                [
                    t(f"check_area.{c['area']}"),
                    t(f"check.{c['item']}"),
                    c["target"],
                    by_unit(c["value"], c["unit"]),
                    by_unit(c["threshold"], c["unit"]),
                    t(f"result.{c['result']}"),
                ]
                for c in s["checklist"]
            ],
        )
    doc.add_heading(t("area.availability"), level=2)
    _table(
        doc,
        [
            t("name"),
            t("sla_target"),
            t("contract_availability"),
            t("availability_ratio"),
            t("fault_time"),
            t("slow_time"),
            t("planned_time"),
        ],
        [
            [
                f"{r['name']} ({t(kind)})",
                pct(r["sla_target"], 2),
                pct(r.get("contract_availability_ratio")),
                pct(r["availability_ratio"]),
                dur(r.get("contract_fault_seconds")),
                dur(r.get("slow_seconds")),
                dur(r.get("maintenance_seconds")),
            ]
            for kind in ("services", "integrations")
            for r in s[kind]
        ],
    )
    png = charts.daily_availability_png(s["services"] + s["integrations"], s["sla"]["availability"])
    if png:
        doc.add_picture(io.BytesIO(png), width=Cm(16.5))
    if s.get("maintenance"):
        doc.add_heading(t("maintenance"), level=3)
        _table(
            doc,
            [t("from"), t("to"), t("reason")],
            [
                [
                    when(m["from_ts"], s["timezone"]),
                    when(m["to_ts"], s["timezone"]),
                    m["reason"] + (f" ({t('recurring')})" if m["recurring"] else ""),
                ]
                for m in s["maintenance"]
            ],
        )
    doc.add_heading(t("incident_list"), level=2)
    incidents = s.get("incidents", [])
    if incidents:
        _table(
            doc,
            [
                t("alert"),
                t("target"),
                t("severity"),
                t("started"),
                t("ended"),
                t("duration"),
                t("folded"),
            ],
            [
                [
                    i["alertname"],
                    i.get("target") or "—",
                    i["severity"],
                    when(i["started_ts"], s["timezone"]),
                    t("ongoing") if i["ongoing"] else when(i["ended_ts"], s["timezone"]),
                    dur(i["duration_seconds"]),
                    "; ".join(f"{f['alertname']} ({f.get('target') or '—'})" for f in i["folded"]),
                ]
                for i in incidents[:50]
            ],
        )
    else:
        doc.add_paragraph(t("no_incidents"))
    if s["performance"]["services"]:
        doc.add_heading(t("area.performance"), level=2)
        _table(
            doc,
            [t("name"), t("p50"), t("p95"), t("sla_response"), t("slow_time")],
            [
                [
                    q["name"],
                    secs(q["p50_seconds"]),
                    secs(q["p95_seconds"]),
                    secs(q["sla_response_seconds"]),
                    dur(q["slow_seconds"]),
                ]
                for q in s["performance"]["services"]
            ],
        )
    for d in s["performance"]["databases"]:
        if d.get("slow_statements") is not None:
            doc.add_paragraph(f"{t('slow_statements')}: {d['name']}: {num(d['slow_statements'])}")
        if d.get("slowest_statements"):
            doc.add_paragraph(f"{t('slowest_statements')}: {d['name']}")
            _table(
                doc,
                [t("statement"), t("database"), t("calls"), t("mean_time"), t("total_time")],
                [
                    [
                        q["statement"] or t("statement_not_shown"),
                        q["datname"],
                        num(q["calls"]),
                        secs(q["mean_seconds"]),
                        dur(q["total_seconds"]),
                    ]
                    for q in d["slowest_statements"]
                ],
            )
    if s["recommendations"]:
        doc.add_heading(t("recommendations"), level=2)
        for rec in s["recommendations"]:
            doc.add_paragraph(t(f"rec.{rec['key']}", target=rec["target"]), style="List Bullet")


def _sign_off(doc, t) -> None:
    doc.add_heading(t("docx.sign_off"), level=1)
    table = _table(
        doc,
        [t("docx.party"), t("docx.signature"), t("docx.date")],
        [[t("docx.provider"), "", ""], [t("docx.client"), "", ""]],
        [4, 9, 4],
    )
    for row in table.rows[1:]:
        row.height = Cm(2.5)


def render_docx(report: dict, lang: str, prepared_by: str = "") -> bytes:
    """The report as a DOCX document (bytes)."""
    t = catalogue(lang)
    doc = Document()
    _fonts(doc)
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(1.8))
    _page_number_footer(section, t)
    _cover(doc, report, t, prepared_by)
    doc.add_page_break()
    _summary(doc, report, t, lang)
    for s in report["systems"]:
        doc.add_page_break()
        _system(doc, s, t, lang)
    doc.add_page_break()
    _sign_off(doc, t)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
