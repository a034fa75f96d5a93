"""Overview wall for the ops room: is every customer system healthy right now, and if not, where."""

from dashboards.helpers import (
    FIRING_ALERTS,
    PROBLEMS,
    Layout,
    dashboard,
    dashboard_url,
    firing_alerts,
    low_is_bad,
    selector,
    stat,
    steps,
    table,
)
from exporters.areas import BY_NAME


def problems(expr: str) -> str:
    """How many targets match expr (0 when none)."""
    return f"count({expr}) or vector(0)"


def per_target(label: str, *conditions: str) -> str:
    """Targets (system + label) meeting any of the conditions, each counted once."""
    return problems(f"count by (system, {label}) ({' or '.join(conditions)})")


DATABASES_DOWN = problems(f"{selector('aftercare_database_up')} == 0")
SERVICES_DOWN = problems(f"{selector('aftercare_service_up')} == 0")
INTEGRATIONS_DOWN = problems(f"{selector('aftercare_integration_up')} == 0")
EXCHANGE_LATE_OR_FAILED = per_target(
    "exchange",
    f"time() > {selector('aftercare_exchange_deadline_timestamp_seconds')}",
    f"{selector('aftercare_exchange_last_run_success')} == 0",
)
BACKUPS_LATE_OR_BAD = per_target(
    "backup",
    f"{selector('aftercare_backup_up')} == 0",
    f"time() > {selector('aftercare_backup_deadline_timestamp_seconds')}",
    f"{selector('aftercare_backup_verified')} == 0",
)
HOSTS_IN_TROUBLE = per_target(
    "host", f"{selector('up', job='node')} == 0", firing_alerts(area="hosts")
)
SERVICE_AVAILABILITY = f"avg(avg_over_time({selector('aftercare_service_up')}[$__range]))"
CRITICAL = problems(firing_alerts(severity="critical"))
WARNING = problems(firing_alerts(severity="warning"))

layout = Layout()
layout.row("Alerts and exporters")
layout.add(
    stat(
        "Firing alerts by severity",
        [(f"count by (severity) ({FIRING_ALERTS})", "{{severity}}")],
        thresholds=steps("orange"),
        text_mode="value_and_name",
        colors={"critical": "red", "warning": "orange", "info": "blue"},
        description="Firing alerts of the selected systems (Watchdog left out), by severity.",
    ),
    w=6,
    h=6,
)
layout.add(
    table(
        "Firing alerts",
        [(f"max by (system, alertname, severity, area) ({FIRING_ALERTS})", "")],
        hide=("Value",),
        description="Every firing alert of the selected systems.",
    ),
    w=12,
    h=6,
)
layout.add(
    stat(
        "Aftercare exporters down",
        [(problems('up{job=~"aftercare.*"} == 0'), "")],
        thresholds=PROBLEMS,
        description="Scrape targets of Aftercare exporters Prometheus cannot scrape "
        "(AftercareExporterDown): while one is down its areas are blind.",
    ),
    w=6,
    h=6,
)

layout.row("$system", repeat="system")
AREA_STATS = [
    (
        "Databases down",
        DATABASES_DOWN,
        "database",
        "Databases that do not answer (aftercare_database_up = 0).",
    ),
    (
        "Services down",
        SERVICES_DOWN,
        "services",
        "HTTP, TCP and process checks that fail (aftercare_service_up = 0).",
    ),
    (
        "Integrations down",
        INTEGRATIONS_DOWN,
        "integrations",
        "Links to other systems that fail (aftercare_integration_up = 0).",
    ),
    (
        "Exchange jobs late or failed",
        EXCHANGE_LATE_OR_FAILED,
        "exchange",
        "Data-exchange jobs past their deadline or whose last run failed.",
    ),
    (
        "Backups late or bad",
        BACKUPS_LATE_OR_BAD,
        "backups",
        "Backups past their deadline, unreadable or failing verification.",
    ),
    (
        "Hosts down or in trouble",
        HOSTS_IN_TROUBLE,
        "hosts",
        "Servers whose node_exporter is down or with a firing host alert (CPU, memory, disk, "
        "clock, reboot).",
    ),
]
for title, expr, area, description in AREA_STATS:
    layout.add(
        stat(
            title,
            [(expr, "")],
            thresholds=PROBLEMS,
            description=description,
            link=("Open the dashboard for this system", dashboard_url(BY_NAME[area].dashboard)),
        ),
        w=3,
        h=4,
    )
layout.add(
    stat(
        "Critical alerts",
        [(CRITICAL, "")],
        thresholds=PROBLEMS,
        description="Firing critical alerts: someone acts now.",
    ),
    w=3,
    h=4,
)
layout.add(
    stat(
        "Warning alerts",
        [(WARNING, "")],
        thresholds=steps("green", (1, "orange")),
        description="Firing warnings: a ticket for the next working day.",
    ),
    w=3,
    h=4,
)
layout.add(
    stat(
        "Service availability",
        [(SERVICE_AVAILABILITY, "")],
        unit="percentunit",
        decimals=3,
        thresholds=low_is_bad("availability_ratio"),
        description="Share of service checks that succeeded over the dashboard's time range "
        "(the SLA's 99.9 % is the green line).",
        link=("Open the services dashboard", dashboard_url(BY_NAME["services"].dashboard)),
    ),
    w=3,
    h=4,
)

dashboard = dashboard(
    "overview",
    layout.panels,
    [],
    description="Every customer system at a glance: one row per system, traffic lights per "
    "inspection area, firing alerts, availability over the time range.",
)
