"""Database area: space, performance and exception records of the customer's databases."""

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


def db(metric: str, **matchers: str) -> str:
    """The metric for the selected systems and databases."""
    return selector(metric, "database", **matchers)


def per_db(expr: str) -> str:
    """Sum an expression per system and database."""
    return f"sum by (system, database) ({expr})"


def rate(metric: str) -> str:
    return f"rate({db(metric)}[$__rate_interval])"


LEGEND = "{{system}} / {{database}}"
DATNAME_LEGEND = "{{system}} / {{database}} / {{datname}}"
FREE_RATIO = (
    f"{db('aftercare_database_filesystem_free_bytes')}"
    f" / {db('aftercare_database_filesystem_size_bytes')}"
)
CONNECTIONS_USED = (
    f"{per_db(db('aftercare_database_connections'))}"
    f" / max by (system, database) ({db('aftercare_database_max_connections')})"
)
HIT_RATIO = (
    f"{per_db(rate('aftercare_database_blocks_hit_total'))}"
    f" / ({per_db(rate('aftercare_database_blocks_hit_total'))}"
    f" + {per_db(rate('aftercare_database_blocks_read_total'))})"
)

layout = Layout()
layout.row("Availability")
layout.add(
    stat(
        "Database up",
        [(db("aftercare_database_up"), "{{database}}")],
        mappings=UP_MAPPINGS,
        thresholds=steps("red", (1, "green")),
        text_mode="value_and_name",
        description=(
            "1 when Aftercare can connect and query (AftercareDatabaseDown fires after 1m at 0)."
        ),
    ),
    w=8,
    h=5,
)
layout.add(
    table("Engine and version", [(db("aftercare_database_version_info"), "")], hide=("Value",)),
    w=8,
    h=5,
)
layout.add(
    stat(
        "Uptime",
        [(f"time() - {db('aftercare_database_start_timestamp_seconds')}", "{{database}}")],
        unit="dtdurations",
        thresholds=steps("orange", (3600, "green")),
        text_mode="value_and_name",
        description=(
            "Since the database server last started; amber in the first hour after a restart."
        ),
    ),
    w=8,
    h=5,
)

layout.row("Space")
layout.add(
    timeseries(
        "Filesystem free (data path)",
        [(FREE_RATIO, LEGEND)],
        "percentunit",
        thresholds=low_is_bad("filesystem_free_ratio"),
        max_value=1,
        description="Free share of the filesystem holding the data path.",
    ),
    w=8,
)
layout.add(
    timeseries(
        "Filesystem free in 7 days (forecast)",
        [
            (
                f"predict_linear({db('aftercare_database_filesystem_free_bytes')}[6h], 7 * 86400)",
                LEGEND,
            )
        ],
        "bytes",
        min_zero=False,
        description="Free bytes a week from now if the last 6 hours' trend goes on.",
    ),
    w=8,
)
layout.add(
    timeseries("Database size", [(db("aftercare_database_size_bytes"), DATNAME_LEGEND)], "bytes"),
    w=8,
)
layout.add(
    table(
        "Largest tables",
        [(f"topk(15, {db('aftercare_database_table_size_bytes')})", "")],
        unit="bytes",
        description="The top-N tables per database (top_tables in aftercare.yml).",
    ),
    w=12,
)
layout.add(
    timeseries(
        "Tablespace size",
        [
            (
                db("aftercare_database_tablespace_size_bytes"),
                "{{system}} / {{database}} / {{tablespace}}",
            )
        ],
        "bytes",
    ),
    w=12,
)

layout.row("Performance")
layout.add(
    timeseries(
        "Connections used",
        [(CONNECTIONS_USED, LEGEND)],
        "percentunit",
        thresholds=high_is_bad("connections_used_ratio"),
        max_value=1,
        description="Client connections as a share of max_connections.",
    ),
    w=8,
)
layout.add(
    timeseries(
        "Connections by state",
        [(db("aftercare_database_connections"), "{{database}} {{state}}")],
        "short",
        stack=True,
    ),
    w=8,
)
layout.add(
    timeseries(
        "Cache hit ratio",
        [(HIT_RATIO, LEGEND)],
        "percentunit",
        max_value=1,
        thresholds=steps("red", (0.9, "orange"), (0.99, "green")),
    ),
    w=8,
)
layout.add(
    timeseries(
        "Transactions",
        [
            (per_db(rate("aftercare_database_commits_total")), "commits {{database}}"),
            (per_db(rate("aftercare_database_rollbacks_total")), "rollbacks {{database}}"),
        ],
        "ops",
    ),
    w=8,
)
layout.add(
    timeseries(
        "Rollback ratio",
        [
            (
                f"{per_db(rate('aftercare_database_rollbacks_total'))}"
                f" / ({per_db(rate('aftercare_database_commits_total'))}"
                f" + {per_db(rate('aftercare_database_rollbacks_total'))})",
                LEGEND,
            )
        ],
        "percentunit",
        thresholds=high_is_bad("rollback_ratio"),
        max_value=1,
        description="Rolled-back share of transactions (AftercareDatabaseRollbackRatio).",
    ),
    w=8,
)
layout.add(
    timeseries(
        "Oldest transaction and longest query",
        [
            (
                db("aftercare_database_oldest_transaction_seconds"),
                "oldest transaction {{database}}",
            ),
            (db("aftercare_database_longest_query_seconds"), "longest query {{database}}"),
        ],
        "s",
        thresholds=high_is_bad("oldest_transaction_seconds"),
    ),
    w=8,
)
layout.add(
    timeseries(
        "Slow queries and waiting locks",
        [
            (db("aftercare_database_slow_queries"), "slow queries {{database}}"),
            (db("aftercare_database_locks_waiting"), "waiting locks {{database}}"),
        ],
        "short",
        description="Statements running longer than slow_query, and sessions waiting for a lock.",
    ),
    w=8,
)
layout.add(
    timeseries(
        "Completed slow statements per 15 minutes",
        [(per_db(f"increase({db('aftercare_database_slow_statements_total')}[15m])"), LEGEND)],
        "short",
        thresholds=high_is_bad("slow_statements_per_15m"),
        description="Statements that completed slower than the server's own threshold "
        "(log_min_duration_statement, long_query_time), from its log "
        "(AftercareDatabaseSlowStatements).",
    ),
    w=8,
)
layout.add(
    timeseries(
        "Slow statement duration (p95)",
        [
            (
                f"histogram_quantile(0.95, sum by (system, database, le) "
                f"(rate({db('aftercare_database_slow_statement_duration_seconds_bucket')}[$__rate_interval])))",
                LEGEND,
            )
        ],
        "s",
        description="95th percentile of the completed slow statements' durations.",
    ),
    w=8,
)
layout.add(
    timeseries(
        "Temporary files written",
        [(per_db(rate("aftercare_database_temp_bytes_total")), LEGEND)],
        "Bps",
        description="Sorts and hashes spilling to disk (PostgreSQL).",
    ),
    w=8,
)
layout.add(
    timeseries(
        "Checkpoints",
        [
            (
                f"sum by (system, database, kind) ({rate('aftercare_database_checkpoints_total')})",
                "{{database}} {{kind}}",
            )
        ],
        "ops",
        description="Requested checkpoints outnumbering timed ones mean "
        "max_wal_size is too small (PostgreSQL).",
    ),
    w=8,
)
layout.add(
    timeseries(
        "Replication lag",
        [
            (db("aftercare_database_replication_lag_seconds"), "replica {{database}}"),
            (
                db("aftercare_database_standby_replay_lag_seconds"),
                "standby {{database}} {{standby}}",
            ),
        ],
        "s",
        thresholds=high_is_bad("replication_lag_seconds"),
    ),
    w=8,
)

layout.row("Exception records")
layout.add(
    timeseries(
        "Deadlocks per hour",
        [(per_db(f"increase({db('aftercare_database_deadlocks_total')}[1h])"), LEGEND)],
        "short",
        thresholds=high_is_bad("deadlocks_per_hour"),
        description="Deadlocks in the hour before each point (AftercareDatabaseDeadlocks).",
    ),
    w=8,
)
layout.add(
    timeseries(
        "Conflicts with recovery",
        [
            (
                per_db(f"increase({db('aftercare_database_conflicts_total')}[$__rate_interval])"),
                LEGEND,
            )
        ],
        "short",
        bars=True,
    ),
    w=8,
)
layout.add(
    timeseries(
        "Server log messages per 15 minutes",
        [
            (
                f"sum by (system, database, severity) "
                f"(increase({db('aftercare_database_log_messages_total')}[15m]))",
                "{{database}} {{severity}}",
            )
        ],
        "short",
        thresholds=high_is_bad("log_fatal_per_15m"),
        description="ERROR, FATAL and PANIC lines in the database server's log "
        "in the 15 minutes before each point; FATAL above the line opens a ticket "
        "(AftercareDatabaseLogFatal).",
    ),
    w=8,
)
layout.add(
    timeseries(
        "WAL archiving failures",
        [
            (
                per_db(
                    f"increase({db('aftercare_database_wal_archive_failures_total')}[$__rate_interval])"
                ),
                LEGEND,
            )
        ],
        "short",
        bars=True,
        thresholds=steps("green", (1, "red")),
    ),
    w=12,
)
layout.add(
    timeseries(
        "Age of the last archived WAL segment",
        [(db("aftercare_database_wal_last_archived_age_seconds"), LEGEND)],
        "s",
    ),
    w=12,
)
layout.add(
    table(
        "Collectors failing",
        [('aftercare_scrape_collector_success{system=~"$system",target=~"$database"} == 0', "")],
        hide=("Value",),
        description="Collectors of the database area that failed at the last scrape "
        "(a missing privilege, a timeout): their panels show nothing.",
    ),
    w=24,
    h=6,
)

dashboard = area_dashboard(
    "database",
    layout.panels,
    "aftercare_database_up",
    "Database",
    description="Area 1 of the support contract: space, performance and "
    "exception records of the customer's databases.",
)
