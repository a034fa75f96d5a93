"""Optional dependencies (pip extras): one clear line, never a traceback, when one is missing."""

from __future__ import annotations

import importlib
import importlib.util

# extra -> the modules it provides (import names)
EXTRAS: dict[str, tuple[str, ...]] = {
    "database": ("psycopg2", "pymysql"),
    "integrations": ("psycopg2", "pymysql", "pika", "dns"),
    "report": ("requests", "jinja2", "matplotlib"),
    "pdf": ("weasyprint",),
}
# the exporter areas whose modules import an extra's drivers
AREA_EXTRAS: dict[str, tuple[str, ...]] = {
    "database": ("database",),
    "integrations": ("integrations",),
    "all": ("database", "integrations"),
}


class MissingExtra(Exception):
    """An optional dependency is not installed; the message names the pip command."""


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here."""
    return [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]


def require(extras: str | tuple[str, ...], what: str, verb: str = "needs") -> None:
    """Raise MissingExtra, naming one pip command, unless every module of ``extras`` is here."""
    extras = (extras,) if isinstance(extras, str) else extras
    lacking = [e for e in extras if missing_modules(e)]
    if lacking:
        modules = sorted({m for e in lacking for m in missing_modules(e)})
        raise MissingExtra(
            f"{what} {verb} the {', '.join(repr(e) for e in lacking)} "
            f"extra{'s' if len(lacking) > 1 else ''} ({', '.join(modules)} "
            f"not installed): pip install 'aftercare[{','.join(lacking)}]'"
        )


def require_area(area: str) -> None:
    """The extras an exporter area (or ``all``) imports."""
    if area in AREA_EXTRAS:
        require(AREA_EXTRAS[area], f"aftercare-exporter {area}")


def require_for_config(area: str, config) -> None:
    """Extras a config asks of an area: the exchange exporter's SQL-checked jobs need drivers."""
    if area == "exchange" and any(job.query for s in config.systems for job in s.exchange):
        require("database", "the exchange exporter's SQL-checked jobs", verb="need")


def require_pdf() -> None:
    """WeasyPrint installed and loadable (it needs Pango from the system)."""
    require("pdf", "--format pdf")
    try:
        importlib.import_module("weasyprint")
    except OSError:  # Pango missing: weasyprint cannot load its libraries
        raise MissingExtra(
            "--format pdf needs Pango, which WeasyPrint could not load: "
            "apt-get install libpango-1.0-0 libpangoft2-1.0-0"
        ) from None
