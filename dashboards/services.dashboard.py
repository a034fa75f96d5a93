"""Services & logs: application reachable, running and fast; log lines of the application
servers."""

from dashboards.helpers import (
    UP_MAPPINGS,
    Layout,
    area_dashboard,
    high_is_bad,
    label_variable,
    low_is_bad,
    selector,
    stat,
    steps,
    table,
    timeseries,
)


def svc(metric: str, **matchers: str) -> str:
    """The metric for the selected systems and services."""
    return selector(metric, "service", **matchers)


def src(metric: str, **matchers: str) -> str:
    """The metric for the selected systems and log sources."""
    return selector(metric, "source", **matchers)


LEGEND = "{{system}} / {{service}}"
SOURCE_LEGEND = "{{system}} / {{source}}"

layout = Layout()
layout.row("Reachable and running")
layout.add(
    stat(
        "Service up",
        [(svc("aftercare_service_up"), "{{service}}")],
        mappings=UP_MAPPINGS,
        thresholds=steps("red", (1, "green")),
        text_mode="value_and_name",
        description="1 when the HTTP, TCP or process check succeeds.",
    ),
    w=12,
    h=5,
)
layout.add(
    table(
        "Availability over the time range",
        [(f"avg_over_time({svc('aftercare_service_up')}[$__range])", "")],
        unit="percentunit",
        thresholds=low_is_bad("availability_ratio"),
        rename={"Value": "availability"},
        description="Share of successful checks in the dashboard's time range "
        "(green from the SLA's 99.9 %).",
    ),
    w=12,
    h=5,
)

layout.row("Performance")
layout.add(
    timeseries(
        "Response time",
        [(svc("aftercare_service_response_seconds"), LEGEND)],
        "s",
        thresholds=high_is_bad("response_seconds"),
        description="Time the check took; the SLA's response_time (2s by default) is red.",
    ),
    w=12,
)
layout.add(
    timeseries(
        "HTTP phases",
        [(svc("aftercare_http_phase_seconds"), "{{service}} {{phase}}")],
        "s",
        stack=True,
        description="Where an HTTP check spends its time: resolve, connect, "
        "TLS, processing, transfer.",
    ),
    w=12,
)
layout.add(
    stat(
        "TLS certificate expires in",
        [(f"{svc('aftercare_tls_cert_expiry_timestamp_seconds')} - time()", "{{service}}")],
        unit="dtdurations",
        thresholds=low_is_bad("tls_expiry_seconds"),
        text_mode="value_and_name",
        description="Until the first certificate of the served chain expires: amber under "
        "20 days, red under 3 (AftercareTLSCertificateExpiring).",
    ),
    w=8,
    h=6,
)
layout.add(
    table(
        "HTTP status",
        [(svc("aftercare_http_status_code"), "")],
        thresholds=steps("green", (400, "red")),
        rename={"Value": "status"},
    ),
    w=8,
    h=6,
)
layout.add(
    timeseries(
        "Processes running",
        [(svc("aftercare_process_running"), LEGEND)],
        "short",
        thresholds=steps("red", (1, "green")),
    ),
    w=8,
    h=6,
)
layout.add(
    timeseries(
        "Process CPU",
        [(f"rate({svc('aftercare_process_cpu_seconds_total')}[$__rate_interval])", LEGEND)],
        "percentunit",
        description="CPU seconds per second of the matching processes (1 = one core).",
    ),
    w=12,
)
layout.add(
    timeseries(
        "Process memory", [(svc("aftercare_process_resident_memory_bytes"), LEGEND)], "bytes"
    ),
    w=12,
)

layout.row("Application logs")
layout.add(
    timeseries(
        "Log lines by level",
        [
            (
                f"sum by (system, source, level) "
                f"(increase({src('aftercare_log_lines_total')}[$__rate_interval]))",
                "{{source}} {{level}}",
            )
        ],
        "short",
        bars=True,
        stack=True,
        description="Lines matching each level's pattern, per log source (rotation-safe).",
    ),
    w=12,
)
layout.add(
    table(
        "Error lines over the time range",
        [
            (
                f"sum by (system, source) "
                f"(increase({src('aftercare_log_lines_total', level='error')}[$__range]))",
                "",
            )
        ],
        thresholds=steps("green", (1, "orange")),
        rename={"Value": "error lines"},
    ),
    w=12,
)
layout.add(
    timeseries(
        "HTTP requests by status class",
        [
            (
                f"sum by (system, source, code_class) "
                f"(rate({src('aftercare_http_requests_total')}[$__rate_interval]))",
                "{{source}} {{code_class}}",
            )
        ],
        "reqps",
        stack=True,
        description="From access logs (format: combined).",
    ),
    w=8,
)
layout.add(
    timeseries(
        "HTTP request duration p95",
        [
            (
                f"histogram_quantile(0.95, sum by (system, source, le) "
                f"(rate({src('aftercare_http_request_duration_seconds_bucket')}[$__rate_interval])))",
                SOURCE_LEGEND,
            )
        ],
        "s",
        thresholds=high_is_bad("response_seconds"),
    ),
    w=8,
)
layout.add(
    timeseries(
        "Log reading backlog",
        [(src("aftercare_log_backlog_bytes"), SOURCE_LEGEND)],
        "bytes",
        description="Bytes written to the log files but not yet read by Aftercare.",
    ),
    w=8,
)

dashboard = area_dashboard(
    "services",
    layout.panels,
    "aftercare_service_up",
    "Service",
    extra_variables=[label_variable("source", "Log source", "aftercare_log_files")],
    description="Areas 2 and 3 of the support contract: the application reachable, running and "
    "fast, and the run logs of its servers.",
)
