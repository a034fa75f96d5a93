"""A pgBackRest stanza that breaks pages on-call: a real repository loses its info
files -> the backups exporter reads status 3 -> Prometheus fires
AftercareBackupStanzaError (`for` shortened) -> Alertmanager pages on-call ->
the stanza is recreated and backed up -> a resolved notification."""

from __future__ import annotations

import time

import yaml

from devstack.rulefiles import shortened_rules
from devstack.waiting import wait_until
from devstack.webhook import firing, resolved

PENDING = "5s"


def test_broken_stanza_pages_oncall_then_resolves(
    tmp_path,
    pgbackrest_repo,
    exporter_factory,
    prometheus_factory,
    alertmanager_factory,
    webhook_sink,
):
    repo = pgbackrest_repo
    repo.write_conf("paged")
    repo.run("stanza-create", stanza="paged")
    # the cluster archives its WAL into stanza main: this stanza's backups skip the WAL check
    repo.run("backup", "--type=full", "--archive-check=n", stanza="paged")
    cfg = tmp_path / "aftercare.yml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "defaults": {"timeout": "5s", "state_dir": str(tmp_path / "state")},
                "systems": [
                    {
                        "name": "billing",
                        "backups": [
                            {
                                "name": "billing-pgbr",
                                "pgbackrest": {"stanza": "paged", "command": repo.command},
                            }
                        ],
                    }
                ],
            }
        )
    )
    exporter = exporter_factory("backups", cfg)
    alertmanager = alertmanager_factory()
    prometheus = prometheus_factory(
        scrape_configs=[
            {"job_name": "aftercare-backups", "static_configs": [{"targets": [exporter.address]}]}
        ],
        rule_files=shortened_rules(
            tmp_path / "rules", PENDING, names=("backups.alerts.yml", "backups.rules.yml")
        ),
        alertmanagers=[alertmanager.address],
    )
    wait_until(
        lambda: prometheus.query(
            'aftercare_backup_pgbackrest_status_code{backup="billing-pgbr"} == 0'
        ),
        30,
        what="the healthy stanza seen by Prometheus",
    )

    repo.lose_info_files("paged")
    fault = time.monotonic()
    page = webhook_sink.wait_for(
        firing("AftercareBackupStanzaError", system="billing", backup="billing-pgbr"),
        timeout=60,
        path="/oncall",
    )
    latency = time.monotonic() - fault
    alert = next(a for a in page.alerts if a["labels"]["alertname"] == "AftercareBackupStanzaError")
    assert alert["labels"]["severity"] == "critical" and alert["labels"]["area"] == "backups"
    assert "status 3" in alert["annotations"]["summary"]
    assert alert["annotations"]["runbook_url"].endswith(
        "/docs/runbooks/AftercareBackupStanzaError.md"
    )
    assert latency < 30, latency
    print(f"broken stanza -> page: {latency:.1f}s (for={PENDING})")

    # the repair of the runbook for lost info files on an empty stanza: recreate it, back up
    repo.recreate_stanza("paged")
    repo.run("backup", "--type=full", "--archive-check=n", stanza="paged")
    webhook_sink.wait_for(
        resolved("AftercareBackupStanzaError", system="billing", backup="billing-pgbr"),
        timeout=90,
        path="/oncall",
    )
