"""The PromQL a generated dashboard runs, with Grafana's variables substituted.

Used by the live-query test and by the previews: both run exactly the
expressions Grafana would, read from the generated JSON.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

GENERATED_DIR = Path(__file__).resolve().parent / "generated"
VARIABLE = re.compile(r"\$(\{[^}]+\}|[A-Za-z_]\w*)")


class UnknownVariable(ValueError):
    """An expression uses a variable the substitution was not given."""


@dataclass(frozen=True)
class Query:
    """One panel target (or annotation) of a dashboard."""

    dashboard: str  # uid
    panel_id: int | None  # None for an annotation
    panel: str  # panel title, or "annotation: <name>"
    kind: str  # panel type (stat, timeseries, table) or "annotation"
    ref: str
    expr: str
    legend: str = ""
    instant: bool = False

    @property
    def key(self) -> str:
        """A stable name for skip lists and reports: <uid>/<panel title>/<refId>."""
        return f"{self.dashboard}/{self.panel}/{self.ref}"


def load_dashboards(directory: Path = GENERATED_DIR) -> dict[str, dict]:
    """{uid: dashboard JSON} of every generated dashboard."""
    out = {}
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        out[data["uid"]] = data
    return out


def panels(dashboard: dict) -> list[dict]:
    """Every panel, rows' nested panels included, rows themselves left out."""
    out = []
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            out.extend(panel.get("panels", []))
        else:
            out.append(panel)
    return out


def queries(dashboard: dict) -> list[Query]:
    """Every target expression of every panel, then every annotation's expression."""
    uid = dashboard["uid"]
    out = [
        Query(
            uid,
            panel["id"],
            panel["title"],
            panel["type"],
            target["refId"],
            target["expr"],
            target.get("legendFormat", ""),
            bool(target.get("instant")),
        )
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]
    out += [
        Query(uid, None, f"annotation: {a['name']}", "annotation", "A", a["expr"])
        for a in dashboard.get("annotations", {}).get("list", [])
        if a.get("expr")
    ]
    return out


def substitute(expr: str, values: dict[str, str]) -> str:
    """Replace $name and ${name} by values[name]; UnknownVariable for any other variable."""

    def replace(match: re.Match) -> str:
        name = match.group(1).strip("{}")
        if name not in values:
            raise UnknownVariable(f"{name} in {expr}")
        return values[name]

    return VARIABLE.sub(replace, expr)


def variables(
    dashboard: dict,
    selected: dict[str, str] | None = None,
    range_: str = "6h",
    rate_interval: str = "1m",
) -> dict[str, str]:
    """Values for every variable of the dashboard: All (the allValue) unless selected says
    otherwise, plus Grafana's $__range, $__rate_interval and $__interval."""
    values = {"__range": range_, "__rate_interval": rate_interval, "__interval": "15s"}
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            values[variable["name"]] = variable.get("allValue") or ".*"
    values.update(selected or {})
    return values


def legend(template: str, labels: dict[str, str]) -> str:
    """A series' legend from a legendFormat like '{{system}} / {{database}}'."""
    if not template:
        return (
            ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "__name__") or "value"
        )
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template)
