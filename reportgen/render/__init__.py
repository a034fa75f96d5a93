"""One template set + the message catalogue -> HTML, Markdown, JSON, PDF; written atomically."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import jinja2

from ..analysis import AREAS
from . import charts
from .fmt import FILTERS, dur, num, pct, size
from .messages import catalogue

FORMATS = ("html", "md", "json", "pdf")
_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                          autoescape=jinja2.select_autoescape(["html.j2"]),
                          trim_blocks=False, lstrip_blocks=False, undefined=jinja2.StrictUndefined)
_ENV.filters.update(FILTERS)


def evidence(rec: dict) -> str:
    """The evidence figures of a recommendation, formatted by their unit."""
    parts = []
    for key, value in rec["evidence"].items():
        if value is None:
            continue
        if key.endswith("_ratio") or key == "sla_target":
            text = pct(value, 3)
        elif key.endswith("_seconds") and "response" not in key and "p95" not in key:
            text = dur(value)
        elif key.endswith("_seconds"):
            text = f"{value:.3f} s"
        elif key.endswith("bytes_per_day"):
            text = size(value) + "/d"
        else:
            text = num(value, 1)
        parts.append(f"{key}={text}")
    return ", ".join(parts)


def _context(report: dict, lang: str, runbook_base: str) -> dict:
    svg = {}
    for s in report["systems"]:
        svg[s["name"]] = {
            "availability": charts.daily_availability(s["services"] + s["integrations"],
                                                      s["sla"]["availability"]),
            "size": charts.size_trend(s["databases"]),
        }
    return {"r": report, "t": catalogue(lang), "lang": lang, "areas": AREAS, "charts": svg,
            "evidence": evidence, "runbook_base": runbook_base}


def render_html(report: dict, lang: str, runbook_base: str = "") -> str:
    return _ENV.get_template("report.html.j2").render(**_context(report, lang, runbook_base))


def render_md(report: dict, lang: str, runbook_base: str = "") -> str:
    ctx = {"r": report, "t": catalogue(lang), "lang": lang, "areas": AREAS,
           "evidence": evidence, "runbook_base": runbook_base}
    return _ENV.get_template("report.md.j2").render(**ctx)


def render_json(report: dict) -> str:
    return json.dumps(report, ensure_ascii=False, indent=1, default=str)


def render_pdf(html: str) -> bytes:
    import weasyprint   # imported only when PDF is asked for (needs Pango)
    return weasyprint.HTML(string=html).write_pdf()


def render_all(report: dict, formats: list[str], lang: str, runbook_base: str = "") -> dict[str, bytes]:
    """Every requested format in memory: {extension: bytes}."""
    out: dict[str, bytes] = {}
    html = None
    if "html" in formats or "pdf" in formats:
        html = render_html(report, lang, runbook_base)
    if "html" in formats:
        out["html"] = html.encode("utf-8")
    if "md" in formats:
        out["md"] = render_md(report, lang, runbook_base).encode("utf-8")
    if "json" in formats:
        out["json"] = render_json(report).encode("utf-8")
    if "pdf" in formats:
        out["pdf"] = render_pdf(html)
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
