"""Integrations: connectivity and latency of the links between the customer's systems."""

from dashboards.helpers import (
    UP_MAPPINGS,
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


def link(metric: str, **matchers: str) -> str:
    """The metric for the selected systems and integrations."""
    return selector(metric, "integration", **matchers)


LEGEND = "{{system}} / {{integration}}"

layout = Layout()
layout.row("Connectivity")
layout.add(
    stat(
        "Integration up",
        [(link("aftercare_integration_up"), "{{integration}}")],
        mappings=UP_MAPPINGS,
        thresholds=steps("red", (1, "green")),
        text_mode="value_and_name",
        description=(
            "1 when the link answers: TCP, HTTP, PostgreSQL, MySQL, Redis, AMQP, MQTT or DNS."
        ),
    ),
    w=12,
    h=6,
)
layout.add(
    table(
        "Availability over the time range",
        [(f"avg_over_time({link('aftercare_integration_up')}[$__range])", "")],
        unit="percentunit",
        thresholds=low_is_bad("availability_ratio"),
        rename={"Value": "availability"},
    ),
    w=12,
    h=6,
)
layout.add(
    timeseries(
        "Up over time",
        [(link("aftercare_integration_up"), LEGEND)],
        "short",
        thresholds=steps("red", (1, "green")),
        max_value=1,
    ),
    w=12,
)
layout.add(
    table(
        "Why a link fails",
        [(f"{link('aftercare_integration_failure')} == 1", "")],
        hide=("Value",),
        description="The reason of each failing link at the last check "
        "(connect, timeout, tls, auth, protocol, ...).",
    ),
    w=12,
)

layout.row("Latency")
layout.add(
    timeseries(
        "Latency",
        [(link("aftercare_integration_latency_seconds"), LEGEND)],
        "s",
        thresholds=high_is_bad("integration_latency_seconds"),
        description="Time to connect and complete the protocol's check.",
    ),
    w=16,
)
layout.add(
    table(
        "Latency now",
        [(link("aftercare_integration_latency_seconds"), "")],
        unit="s",
        thresholds=high_is_bad("integration_latency_seconds"),
        rename={"Value": "latency"},
    ),
    w=8,
)

dashboard = area_dashboard(
    "integrations",
    layout.panels,
    "aftercare_integration_up",
    "Integration",
    description="Area 4 of the support contract: the connections between "
    "the customer's system and the systems it exchanges data with.",
)
