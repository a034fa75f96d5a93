"""One template set + the message catalogue -> HTML, Markdown, JSON, PDF; written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import jinja2

from exporters.areas import SECTION_BY_GRADE_KEY

from .. import runbooks
from ..analysis import AREAS
from . import charts
from .fmt import FILTERS, dur, num, pct, size
from .messages import catalogue, has_message

FORMATS = ("html", "md", "json", "pdf", "docx")
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=jinja2.select_autoescape(["html.j2"]),
    trim_blocks=False,
    lstrip_blocks=False,
    undefined=jinja2.StrictUndefined,
)
_ENV.filters.update(FILTERS)


def figure(key: str, value) -> str:
    """One figure formatted by the unit its name carries (ratio, seconds, bytes, count)."""
    if value is None:
        return "—"
    if key.endswith("_ratio") or key == "sla_target" or key.endswith("_ratio_end"):
        return pct(value, 3)
    if key in ("p50_seconds", "p95_seconds", "sla_response_seconds"):
        return f"{value:.3f} s"
    if key.endswith("_seconds"):
        return dur(value)
    if key.endswith("bytes_per_day"):
        return size(value) + "/d"
    if "bytes" in key:
        return size(value)
    return num(value, 1)


def change(key: str, value) -> str:
    """A month-over-month change: signed, percentage points for ratios."""
    if value is None:
        return "—"
    sign = "+" if value > 0 else ("−" if value < 0 else "±")
    magnitude = abs(value)
    if key.endswith("_ratio") or key.endswith("_ratio_end"):
        return f"{sign}{magnitude * 100:.3f} pp"
    return sign + figure(key, magnitude)


def evidence(rec: dict) -> str:
    """The evidence figures of a recommendation, formatted by their unit."""
    return ", ".join(
        f"{key}={figure(key, value)}" for key, value in rec["evidence"].items() if value is not None
    )


def _context(report: dict, lang: str, runbook_base: str) -> dict:
    svg = {}
    for s in report["systems"]:
        svg[s["name"]] = {
            "availability": charts.daily_availability(
                s["services"] + s["integrations"], s["sla"]["availability"]
            ),
            "size": charts.size_trend(s["databases"]),
            "requests": charts.daily_requests(s["performance"].get("traffic", [])),
        }
    return {**_common(report, lang, runbook_base), "charts": svg}


def _common(report: dict, lang: str, runbook_base: str) -> dict:
    t = catalogue(lang)

    def severity(word: str) -> str:
        return t(f"severity.{word}") if has_message(f"severity.{word}") else word

    def figure_name(key: str) -> str:
        return t(f"fig.{key}") if has_message(f"fig.{key}") else key

    def section(grade_key: str) -> str:
        """The section a report key names (``protection`` -> ``backups``), for its title."""
        return SECTION_BY_GRADE_KEY[grade_key].key

    def runbook_text(link: str) -> str:
        return t("runbook_index") if link == runbooks.INDEX else link.rsplit("/", 1)[-1]

    return {
        "r": report,
        "t": t,
        "lang": lang,
        "areas": AREAS,
        "evidence": evidence,
        "figure": figure,
        "change": change,
        "severity": severity,
        "figure_name": figure_name,
        "runbook_text": runbook_text,
        "runbook_base": runbook_base,
        "section": section,
    }


def render_html(report: dict, lang: str, runbook_base: str = "") -> str:
    return _ENV.get_template("report.html.j2").render(**_context(report, lang, runbook_base))


def render_md(report: dict, lang: str, runbook_base: str = "") -> str:
    return _ENV.get_template("report.md.j2").render(**_common(report, lang, runbook_base))


def render_json(report: dict) -> str:
    return json.dumps(report, ensure_ascii=False, indent=1, default=str)


def render_pdf(html: str) -> bytes:
    import weasyprint  # imported only when PDF is asked for (needs Pango)

    return weasyprint.HTML(string=html).write_pdf()


def render_all(
    report: dict, formats: list[str], lang: str, runbook_base: str = "", prepared_by: str = ""
) -> dict[str, bytes]:
    """Every requested format in memory: {extension: bytes}."""
    out: dict[str, bytes] = {}
    html = None
    if "html" in formats or "pdf" in formats:
        html = render_html(report, lang, runbook_base)
    if "html" in formats:
        assert html is not None
        out["html"] = html.encode("utf-8")
    if "md" in formats:
        out["md"] = render_md(report, lang, runbook_base).encode("utf-8")
    if "json" in formats:
        out["json"] = render_json(report).encode("utf-8")
    if "pdf" in formats:
        assert html is not None
        out["pdf"] = render_pdf(html)
    if "docx" in formats:
        from .word import render_docx

        out["docx"] = render_docx(report, lang, prepared_by)
    return out


def write_atomically(files: dict[str, bytes], out_dir: str) -> list[str]:
    """Write every file to a temporary name first, then rename them all into place."""
    os.makedirs(out_dir, exist_ok=True)
    staged = []
    try:
        for name, data in files.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=out_dir)
            staged.append((tmp, os.path.join(out_dir, name)))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
    except BaseException:
        for tmp, _ in staged:
            os.unlink(tmp)
        raise
    for tmp, final in staged:
        os.replace(tmp, final)
    return [final for _, final in staged]
