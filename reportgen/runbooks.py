"""Runbook links: only to runbooks that exist (docs/runbooks/<AlertName>.md), else the index.

The report links a recommendation to the runbook of the alert that watches the same
thing, and an incident to its alert's runbook. Until that alert and its runbook
exist, the link goes to the runbook index, never to a missing page.
"""
from __future__ import annotations

DIRECTORY = "docs/runbooks"
INDEX = f"{DIRECTORY}/README.md"

# Alerts with a runbook in docs/runbooks/ (rules/*.alerts.yml); tests check each file exists.
EXISTING = frozenset({
    "AftercareConfigReloadFailed",
    "AftercareDatabaseDown",
    "AftercareDatabaseMetricsAbsent",
    "AftercareExporterDown",
    "Watchdog",
})

# recommendation key -> the alert that watches the same condition (its runbook, once written)
ALERT_FOR = {
    "availability_below_sla": "AftercareServiceDown",
    "integration_below_sla": "AftercareIntegrationDown",
    "database_unavailable": "AftercareDatabaseDown",
    "low_coverage": "AftercareExporterDown",
    "slow_p95": "AftercareServiceSlow",
    "slow_periods": "AftercareServiceSlow",
    "http_errors": "AftercareHttpErrors",
    "slow_requests": "AftercareServiceSlow",
    "deadlocks": "AftercareDatabaseDeadlocks",
    "disk_full_forecast": "AftercareDatabaseDiskFilling",
    "connections_near_max": "AftercareDatabaseConnectionsHigh",
    "backup_stale": "AftercareBackupMissing",
    "backup_unverified_days": "AftercareBackupUnverified",
    "backup_verification_failed": "AftercareBackupVerifyFailed",
    "wal_archive_failures": "AftercareDatabaseWalArchiveFailing",
    "exchange_missed_deadlines": "AftercareExchangeOverdue",
    "exchange_failures": "AftercareExchangeFailed",
    "log_errors": "AftercareLogErrors",
}


def for_alert(alertname: str) -> str:
    """The runbook of ``alertname`` when it exists, else the runbook index."""
    return f"{DIRECTORY}/{alertname}.md" if alertname in EXISTING else INDEX


def for_recommendation(key: str, alertname: str | None = None) -> str:
    """The runbook for a recommendation (an explicit alert name wins: noisy alerts)."""
    return for_alert(alertname or ALERT_FOR.get(key, ""))
