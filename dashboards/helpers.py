"""Builders and shared selectors for the Aftercare dashboards (grafanalib).

Every dashboard reads Prometheus through the ``datasource`` variable, filters
by the ``system`` variable and, on an area dashboard, by the area's target
variable (``database``, ``service``, ...), all multi-select with "All" meaning
the regex ``.*``.  Thresholds come from :data:`THRESHOLDS`, the one place that
mirrors the alert rules in ``rules/``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from grafanalib.core import (
    Annotations,
    Dashboard,
    DashboardLink,
    GridPos,
    RowPanel,
    Stat,
    Table,
    Target,
    Template,
    Templating,
    Time,
    TimeSeries,
)

from exporters.areas import AREAS, dashboard_areas

SCHEMA_VERSION = 36
"""Dashboard JSON schema of Grafana 9.0, the oldest Grafana these dashboards are made for."""
MIN_GRAFANA_VERSION = "9.0"
DATASOURCE_UID = "prometheus"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
TAG = "aftercare"
ALL = ".*"

TITLES = {
    "overview": "Aftercare / Overview",
    "database": "Aftercare / Database",
    "services": "Aftercare / Services & logs",
    "integrations": "Aftercare / Integrations",
    "exchange": "Aftercare / Data exchange",
    "backups": "Aftercare / Backups",
    "hosts": "Aftercare / Servers",
}

# uid, title and target label of each dashboard; the uid is the link target (/d/<uid>).
# An area dashboard is named after its area (exporters/areas.py); it may show more areas
# (the services dashboard also shows the logs area).
DASHBOARDS = {
    "overview": ("aftercare-overview", TITLES["overview"], None),
    **{
        a.dashboard: (a.dashboard_uid, TITLES[a.dashboard], a.target_label)
        for a in AREAS
        if a.dashboard == a.name
    },
}


def alert_area_pattern(area: str) -> str:
    """The `area` label values of an area's alerts: the name, a plural also in the singular."""
    return f"{area[:-1]}s?" if area.endswith("s") else area


# The `area` label values of the alerts each area dashboard annotates (a regex).
ALERT_AREAS = {
    name: "|".join(alert_area_pattern(a) for a in dashboard_areas(name))
    for name in DASHBOARDS
    if name != "overview"
}

# (amber, red): where a value turns amber and red, None for no such step.  Amber is the
# threshold of the area's warning alert, red the one of its critical alert, taken from the
# aftercare:threshold:* recording rules in rules/ (tests/test_dashboards.py compares them);
# keys marked "dashboard only" have no alert behind them.
THRESHOLDS = {
    "filesystem_free_ratio": (0.20, 0.10),  # database_filesystem_{warning,critical}_free_ratio
    "connections_used_ratio": (0.80, 0.95),  # database_connections_{warning,critical}_ratio
    "oldest_transaction_seconds": (1800, None),  # database_transaction_age_seconds
    "replication_lag_seconds": (300, None),  # database_replication_lag_seconds
    "deadlocks_per_hour": (3, None),  # database_deadlocks_per_hour
    "rollback_ratio": (0.1, None),  # database_rollback_ratio
    "log_fatal_per_15m": (5, None),  # database_log_fatal_per_15m
    "slow_statements_per_15m": (30, None),  # database_slow_statements_per_15m
    "response_seconds": (None, 2),  # the SLA's default response_time (AftercareServiceSlow)
    "availability_ratio": (0.999, 0.99),  # dashboard only: the SLA's default availability
    "tls_expiry_seconds": (20 * 86400, 3 * 86400),  # tls_expiry_{warning,critical}_seconds
    "integration_latency_seconds": (1, None),  # integration_latency_seconds
    "backlog_oldest_age_seconds": (2 * 3600, None),  # exchange_backlog_age_seconds
    "exchange_deadline_left_seconds": (None, 0),  # AftercareExchangeOverdue (critical) once overdue
    "backup_deadline_left_seconds": (0, None),  # AftercareBackupMissing (warning) once overdue
    "backup_size_change_ratio": (0.5, None),  # backup_shrink_ratio
    "host_cpu_busy_ratio": (0.9, None),  # host_cpu_busy_ratio
    "host_load_per_core": (2, None),  # host_load_per_core
    "host_memory_available_ratio": (0.1, 0.05),  # host_memory_available_{warning,critical}_ratio
    "host_filesystem_used_ratio": (0.85, 0.95),  # host_filesystem_used_{warning,critical}_ratio
    "host_disk_busy_ratio": (0.9, None),  # host_disk_busy_ratio
    "host_clock_offset_seconds": (0.05, None),  # host_clock_offset_seconds
}


# -- selectors --------------------------------------------------------------------------------


def selector(metric: str, target_label: str | None = None, **matchers: str) -> str:
    """``metric{system=~"$system",<target>=~"$<target>",...}`` for a panel's query."""
    parts = ['system=~"$system"']
    if target_label:
        parts.append(f'{target_label}=~"${target_label}"')
    parts += [f'{k}="{v}"' for k, v in sorted(matchers.items())]
    return f"{metric}{{{','.join(parts)}}}"


def firing_alerts(**matchers: str) -> str:
    """Firing alerts of the selected systems, Watchdog left out, with extra exact matchers."""
    extra = "".join(f',{k}="{v}"' for k, v in sorted(matchers.items()))
    return f'ALERTS{{alertstate="firing",alertname!="Watchdog",system=~"$system"{extra}}}'


FIRING_ALERTS = firing_alerts()


def area_alerts(areas: str) -> str:
    """Firing alerts of the selected systems whose ``area`` label matches the regex areas."""
    return f'ALERTS{{alertstate="firing",area=~"{areas}",system=~"$system"}}'


def dashboard_url(name: str) -> str:
    """Link to another Aftercare dashboard carrying the system variable and the time range."""
    uid = DASHBOARDS[name][0]
    return f"/d/{uid}/{uid}?${{system:queryparam}}&${{__url_time_range}}"


# -- field config -----------------------------------------------------------------------------


def steps(base: str, *pairs: tuple[float, str]) -> list[dict]:
    """Threshold steps: the base colour, then (value, colour) in increasing value order."""
    out = [{"color": base, "value": None}]
    out += [{"color": colour, "value": value} for value, colour in pairs]
    return out


def high_is_bad(key: str) -> list[dict]:
    """Green, amber from THRESHOLDS[key]'s amber value, red from its red value."""
    amber, red = THRESHOLDS[key]
    return steps("green", *[(v, c) for v, c in ((amber, "orange"), (red, "red")) if v is not None])


def low_is_bad(key: str) -> list[dict]:
    """Green down to THRESHOLDS[key]'s amber value, amber below it, red below its red value."""
    amber, red = THRESHOLDS[key]
    pairs = [
        (v, c)
        for v, c in ((red, "orange" if amber is not None else "green"), (amber, "green"))
        if v is not None
    ]
    return steps("red" if red is not None else "orange", *pairs)


PROBLEMS = steps("green", (1, "red"))
"""A count of targets with a problem: 0 green, any red."""

UP_MAPPINGS = [
    {
        "type": "value",
        "options": {
            "0": {"text": "DOWN", "color": "red", "index": 0},
            "1": {"text": "UP", "color": "green", "index": 1},
        },
    }
]
YES_NO_MAPPINGS = [
    {
        "type": "value",
        "options": {
            "0": {"text": "NO", "color": "red", "index": 0},
            "1": {"text": "YES", "color": "green", "index": 1},
        },
    }
]


# -- panels -----------------------------------------------------------------------------------


def target(
    expr: str, legend: str = "", ref: str = "A", instant: bool = False, table: bool = False
) -> Target:
    """A Prometheus query of a panel."""
    return Target(
        expr=expr,
        legendFormat=legend,
        refId=ref,
        instant=instant,
        format="table" if table else "time_series",
        datasource=DATASOURCE,
        intervalFactor=1,
        step=None,
    )


def targets(*queries: tuple[str, str], instant: bool = False, table: bool = False) -> list[Target]:
    """Targets A, B, ... from (expr, legend) pairs."""
    return [
        target(expr, legend, chr(ord("A") + i), instant, table)
        for i, (expr, legend) in enumerate(queries)
    ]


def stat(
    title: str,
    queries: Sequence[tuple[str, str]],
    unit: str = "none",
    thresholds: list[dict] | None = None,
    mappings: list | None = None,
    description: str = "",
    link: tuple[str, str] | None = None,
    decimals: int | None = None,
    graph: bool = False,
    text_mode: str = "auto",
    colors: dict[str, str] | None = None,
) -> Stat:
    """A stat panel coloured by its thresholds (the background), showing the last value;
    ``colors`` gives a series (by its legend name) a fixed colour instead."""
    overrides = [
        {
            "matcher": {"id": "byName", "options": name},
            "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}}],
        }
        for name, color in sorted((colors or {}).items())
    ]
    panel = Stat(
        title=title,
        dataSource=DATASOURCE,
        targets=targets(*queries),
        format=unit,
        thresholds=thresholds or steps("green"),
        mappings=mappings or [],
        description=description,
        reduceCalc="lastNotNull",
        colorMode="background",
        graphMode="area" if graph else "none",
        decimals=decimals,
        textMode=text_mode,
        noValue="no data",
        overrides=overrides,
    )
    if link:
        panel.links = [{"title": link[0], "url": link[1]}]
    return panel


def timeseries(
    title: str,
    queries: Sequence[tuple[str, str]],
    unit: str,
    thresholds: list[dict] | None = None,
    description: str = "",
    stack: bool = False,
    bars: bool = False,
    min_zero: bool = True,
    max_value: int | None = None,
) -> TimeSeries:
    """A time series panel with a table legend (last and max) and, given thresholds, dashed
    threshold lines."""
    return TimeSeries(
        title=title,
        dataSource=DATASOURCE,
        targets=targets(*queries),
        unit=unit,
        description=description,
        thresholds=thresholds or steps("green"),
        thresholdsStyleMode="dashed" if thresholds else "off",
        legendDisplayMode="table",
        legendPlacement="bottom",
        legendCalcs=["lastNotNull", "max"],
        tooltipMode="multi",
        tooltipSort="desc",
        fillOpacity=60 if stack or bars else 10,
        drawStyle="bars" if bars else "line",
        stacking={"mode": "normal", "group": "A"} if stack else {"mode": "none", "group": "A"},
        valueMin=0 if min_zero else None,
        valueMax=max_value,
        spanNulls=False,
    )


def table(
    title: str,
    queries: Sequence[tuple[str, str]],
    unit: str = "none",
    thresholds: list[dict] | None = None,
    mappings: list | None = None,
    hide: Iterable[str] = (),
    rename: dict[str, str] | None = None,
    description: str = "",
) -> Table:
    """An instant-query table: one row per series, labels as columns, the value coloured."""
    excluded = {name: True for name in ("Time", "__name__", "job", "instance", *hide)}
    transformations = [
        {"id": "merge", "options": {}}
        if len(queries) > 1
        else {"id": "labelsToFields", "options": {}},
        {"id": "organize", "options": {"excludeByName": excluded, "renameByName": rename or {}}},
    ]
    panel = Table(
        title=title,
        dataSource=DATASOURCE,
        targets=targets(*queries, instant=True, table=True),
        unit=unit,
        description=description,
        transformations=transformations,
        thresholds=thresholds or steps("green"),
        displayMode="color-background-solid" if thresholds else "auto",
    )
    panel.extraJson = {"fieldConfig": {"defaults": {"mappings": mappings or []}}}
    return panel


# -- layout -----------------------------------------------------------------------------------


@dataclass
class Layout:
    """Places panels left to right on Grafana's 24-column grid, wrapping to a new line."""

    panels: list = field(default_factory=list)
    x: int = 0
    y: int = 0
    line_height: int = 0

    def row(self, title: str, repeat: str | None = None) -> None:
        """Start a (non-collapsed) row; with repeat, Grafana repeats it per value of that
        variable."""
        self.newline()
        row = RowPanel(title=title, gridPos=GridPos(h=1, w=24, x=0, y=self.y))
        if repeat:
            row.extraJson = {"repeat": repeat}
        self.panels.append(row)
        self.y += 1

    def add(self, panel, w: int, h: int = 8):
        """Place a panel w columns wide and h units high."""
        if self.x + w > 24:
            self.newline()
        panel.gridPos = GridPos(h=h, w=w, x=self.x, y=self.y)
        self.panels.append(panel)
        self.x += w
        self.line_height = max(self.line_height, h)
        return panel

    def newline(self) -> None:
        """Continue below the tallest panel of the current line."""
        if self.x:
            self.y += self.line_height
        self.x, self.line_height = 0, 0


# -- dashboards -------------------------------------------------------------------------------


def datasource_variable() -> Template:
    """The Prometheus data source picker (provisioned with uid ``prometheus``)."""
    return Template(
        name="datasource",
        label="Data source",
        type="datasource",
        query="prometheus",
        default=DATASOURCE_UID,
        refresh=1,
    )


def label_variable(name: str, label: str, metric: str, filtered_by_system: bool = True) -> Template:
    """A multi-select query variable of label values, with All meaning ``.*``."""
    match = f'{metric}{{system=~"$system"}}' if filtered_by_system else metric
    variable = Template(
        name=name,
        label=label,
        dataSource=DATASOURCE,
        query=f"label_values({match}, {name})",
        multi=True,
        includeAll=True,
        allValue=ALL,
        refresh=2,
        sort=1,
    )
    variable._current = {"selected": True, "text": ["All"], "value": ["$__all"]}
    return variable


def system_variable() -> Template:
    """Every customer system any Aftercare exporter reports (each area reports collector health)."""
    return label_variable(
        "system", "System", "aftercare_scrape_collector_success", filtered_by_system=False
    )


def alert_annotation(areas: str) -> dict:
    """Annotations from the firing alerts of the areas (a regex), for the selected systems."""
    return {
        "name": "Alerts",
        "datasource": DATASOURCE,
        "enable": True,
        "iconColor": "red",
        "expr": area_alerts(areas),
        "step": "60s",
        "titleFormat": "{{alertname}}",
        "textFormat": "{{severity}}: {{system}}",
        "tagKeys": "severity,system",
        "useValueForTime": False,
    }


def navigation_links() -> list[DashboardLink]:
    """The other Aftercare dashboards, carrying the variables and the time range."""
    return [
        DashboardLink(
            title="Aftercare",
            type="dashboards",
            tags=[TAG],
            asDropdown=True,
            includeVars=True,
            keepTime=True,
        )
    ]


def dashboard(
    name: str,
    panels: list,
    variables: list[Template],
    annotations: list[dict] = (),
    description: str = "",
    time_from: str = "now-6h",
) -> Dashboard:
    """An Aftercare dashboard: uid, title and tags from DASHBOARDS, panel ids numbered in order."""
    uid, title, _ = DASHBOARDS[name]
    return Dashboard(
        title=title,
        uid=uid,
        description=description,
        tags=[TAG, name],
        timezone="browser",
        schemaVersion=SCHEMA_VERSION,
        refresh="1m",
        editable=True,
        graphTooltip=1,
        time=Time(time_from, "now"),
        links=navigation_links(),
        panels=panels,
        templating=Templating(list=[datasource_variable(), system_variable(), *variables]),
        annotations=Annotations(list=list(annotations)),
    ).auto_panel_ids()


def area_dashboard(
    name: str,
    panels: list,
    target_metric: str,
    target_title: str,
    extra_variables: Sequence[Template] = (),
    description: str = "",
) -> Dashboard:
    """An area dashboard: variables datasource, system and the area's target; ALERTS annotations."""
    label = DASHBOARDS[name][2]
    variables = [label_variable(label, target_title, target_metric), *extra_variables]
    return dashboard(name, panels, variables, [alert_annotation(ALERT_AREAS[name])], description)
