"""Data exchange: the customer's data-exchange and report-submission jobs."""

from dashboards.helpers import (
    YES_NO_MAPPINGS,
    Layout,
    area_dashboard,
    high_is_bad,
    low_is_bad,
    selector,
    stat,
    steps,
    table,
    timeseries,
)


def job(metric: str, **matchers: str) -> str:
    """The metric for the selected systems and exchange jobs."""
    return selector(metric, "exchange", **matchers)


LEGEND = "{{system}} / {{exchange}}"

layout = Layout()
layout.row("On time")
layout.add(
    stat(
        "Deadline in",
        [(f"{job('aftercare_exchange_deadline_timestamp_seconds')} - time()", "{{exchange}}")],
        unit="dtdurations",
        thresholds=low_is_bad("exchange_deadline_left_seconds"),
        text_mode="value_and_name",
        description="Time left until the next success is due by the job's schedule; "
        "negative and red once overdue.",
    ),
    w=8,
    h=5,
)
layout.add(
    stat(
        "Last run succeeded",
        [(job("aftercare_exchange_last_run_success"), "{{exchange}}")],
        mappings=YES_NO_MAPPINGS,
        thresholds=steps("red", (1, "green")),
        text_mode="value_and_name",
    ),
    w=8,
    h=5,
)
layout.add(
    stat(
        "Since the last success",
        [(f"time() - {job('aftercare_exchange_last_success_timestamp_seconds')}", "{{exchange}}")],
        unit="dtdurations",
        text_mode="value_and_name",
    ),
    w=8,
    h=5,
)

layout.row("Runs")
layout.add(
    timeseries(
        "Runs by result",
        [
            (
                f"sum by (system, exchange, result) "
                f"(increase({job('aftercare_exchange_runs_total')}[$__rate_interval]))",
                "{{exchange}} {{result}}",
            )
        ],
        "short",
        bars=True,
        stack=True,
        description=(
            "Finished runs recorded by aftercare-job; a run whose process died counts as a failure."
        ),
    ),
    w=8,
)
layout.add(
    table(
        "Failed runs over the time range",
        [
            (
                f"sum by (system, exchange) "
                f"(increase({job('aftercare_exchange_runs_total', result='failure')}[$__range]))",
                "",
            )
        ],
        thresholds=steps("green", (1, "red")),
        rename={"Value": "failures"},
    ),
    w=8,
)
layout.add(
    timeseries(
        "Duration of the last run",
        [(job("aftercare_exchange_last_duration_seconds"), LEGEND)],
        "s",
        description="Compare with the job's max_duration.",
    ),
    w=8,
)
layout.add(
    timeseries(
        "Records",
        [
            (
                f"sum by (system, exchange) "
                f"(increase({job('aftercare_exchange_records_total')}[$__rate_interval]))",
                LEGEND,
            )
        ],
        "short",
        bars=True,
        description="Records the jobs reported (AFTERCARE_RECORDS=<n>).",
    ),
    w=8,
)
layout.add(
    timeseries("Running", [(job("aftercare_exchange_running"), LEGEND)], "short", max_value=1), w=8
)
layout.add(
    timeseries(
        "Job log lines by level",
        [
            (
                f"sum by (system, exchange, level) "
                f"(increase({job('aftercare_exchange_log_lines_total')}[$__rate_interval]))",
                "{{exchange}} {{level}}",
            )
        ],
        "short",
        bars=True,
        stack=True,
    ),
    w=8,
)

layout.row("Outbox backlog")
layout.add(
    timeseries(
        "Files waiting in the outbox", [(job("aftercare_exchange_backlog_files"), LEGEND)], "short"
    ),
    w=12,
)
layout.add(
    timeseries(
        "Oldest file waiting",
        [(job("aftercare_exchange_backlog_oldest_age_seconds"), LEGEND)],
        "s",
        thresholds=high_is_bad("backlog_oldest_age_seconds"),
    ),
    w=12,
)

dashboard = area_dashboard(
    "exchange",
    layout.panels,
    "aftercare_exchange_deadline_timestamp_seconds",
    "Exchange job",
    description="Area 5 of the support contract: data-exchange and report-"
    "submission programs run on time, succeed, and leave no backlog.",
)
