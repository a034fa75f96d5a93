"""Runbook links: only to runbooks that exist (docs/runbooks/<AlertName>.md), else the index.

The report links a recommendation to the runbook of the alert that watches the same
condition (rules/*.alerts.yml), and an incident to its alert's runbook. Until that
runbook exists, the link goes to the runbook index, never to a missing page.

Which runbooks exist: in a source checkout, the files in docs/runbooks/ next to this
package; in an installed package without docs/, the list below (the runbooks shipped
when this version was released).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

DIRECTORY = "docs/runbooks"
INDEX = f"{DIRECTORY}/README.md"
_CHECKOUT = Path(__file__).resolve().parent.parent / DIRECTORY

SHIPPED = frozenset(
    {
        "AftercareAlertmanagerNotificationsFailing",
        "AftercareBackupLocationDown",
        "AftercareBackupMissing",
        "AftercareBackupShrunk",
        "AftercareBackupUnverified",
        "AftercareBackupVerificationFailed",
        "AftercareCollectorFailing",
        "AftercareConfigReloadFailed",
        "AftercareDatabaseConnectionsNearMax",
        "AftercareDatabaseDeadlocks",
        "AftercareDatabaseDiskFilling",
        "AftercareDatabaseDown",
        "AftercareDatabaseGrowthFillsDisk",
        "AftercareDatabaseLogFatal",
        "AftercareDatabaseLongTransaction",
        "AftercareDatabaseMetricsAbsent",
        "AftercareDatabaseReplicationLag",
        "AftercareDatabaseReplicationStopped",
        "AftercareDatabaseRollbackRatio",
        "AftercareDatabaseWalArchivingFailing",
        "AftercareExchangeBacklogGrowing",
        "AftercareExchangeFailed",
        "AftercareExchangeOverdue",
        "AftercareExporterDown",
        "AftercareIntegrationDown",
        "AftercareIntegrationSlow",
        "AftercareLogErrorSpike",
        "AftercareLogSourceMissing",
        "AftercarePrometheusAlertmanagerUnreachable",
        "AftercarePrometheusRuleEvaluationFailures",
        "AftercareServiceDown",
        "AftercareServiceSlow",
        "AftercareSystemDown",
        "AftercareTLSCertificateExpiring",
        "AftercareTargetMetricsAbsent",
        "Watchdog",
    }
)

# recommendation key -> the alert of rules/*.alerts.yml that watches the same condition
ALERT_FOR = {
    "availability_below_sla": "AftercareServiceDown",
    "integration_below_sla": "AftercareIntegrationDown",
    "low_coverage": "AftercareExporterDown",
    "slow_p95": "AftercareServiceSlow",
    "slow_periods": "AftercareServiceSlow",
    "http_errors": "AftercareServiceDown",
    "slow_requests": "AftercareServiceSlow",
    "deadlocks": "AftercareDatabaseDeadlocks",
    "disk_full_forecast": "AftercareDatabaseDiskFilling",
    "connections_near_max": "AftercareDatabaseConnectionsNearMax",
    "backup_stale": "AftercareBackupMissing",
    "backup_unverified_days": "AftercareBackupUnverified",
    "backup_verification_failed": "AftercareBackupVerificationFailed",
    "wal_archive_failures": "AftercareDatabaseWalArchivingFailing",
    "exchange_missed_deadlines": "AftercareExchangeOverdue",
    "exchange_failures": "AftercareExchangeFailed",
    "log_errors": "AftercareLogErrorSpike",
}


@lru_cache(maxsize=1)
def existing() -> frozenset[str]:
    """Alert names with a runbook: the checkout's docs/runbooks/, else the shipped list."""
    if _CHECKOUT.is_dir():
        return frozenset(p.stem for p in _CHECKOUT.glob("*.md") if p.name != "README.md")
    return SHIPPED


def for_alert(alertname: str) -> str:
    """The runbook of ``alertname`` when it exists, else the runbook index."""
    return f"{DIRECTORY}/{alertname}.md" if alertname in existing() else INDEX


def for_recommendation(key: str, alertname: str | None = None) -> str:
    """The runbook for a recommendation (an explicit alert name wins: noisy alerts)."""
    return for_alert(alertname or ALERT_FOR.get(key, ""))
