"""The spine end to end: a real database stops -> the exporter reports it ->
Prometheus fires AftercareDatabaseDown -> Alertmanager pages on-call ->
the database comes back -> a resolved notification."""

from __future__ import annotations

import time

import yaml

from devstack.rulefiles import shortened_rules
from devstack.waiting import wait_until
from devstack.webhook import firing, resolved

PENDING = "5s"  # the rules' `for`, shortened; everything else as shipped


def test_database_down_pages_oncall_then_resolves(
    tmp_path, throwaway_pg, exporter_factory, prometheus_factory, alertmanager_factory, webhook_sink
):
    cfg = tmp_path / "aftercare.yml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "defaults": {"timeout": "2s", "state_dir": str(tmp_path)},
                "systems": [
                    {
                        "name": "billing",
                        "databases": [
                            {"name": "billing-pg", "type": "postgresql", "dsn": throwaway_pg.dsn()}
                        ],
                    }
                ],
            }
        )
    )
    exporter = exporter_factory("database", cfg)
    alertmanager = alertmanager_factory()
    prometheus = prometheus_factory(
        scrape_configs=[
            {"job_name": "aftercare-database", "static_configs": [{"targets": [exporter.address]}]}
        ],
        rule_files=shortened_rules(tmp_path / "rules", PENDING),
        alertmanagers=[alertmanager.address],
    )
    wait_until(
        lambda: prometheus.query('aftercare_database_up{database="billing-pg"} == 1'),
        30,
        what="the database seen up by Prometheus",
    )

    throwaway_pg.stop()
    fault = time.monotonic()
    page = webhook_sink.wait_for(
        firing("AftercareDatabaseDown", system="billing", database="billing-pg"),
        timeout=60,
        path="/oncall",
    )
    latency = time.monotonic() - fault
    alert = next(a for a in page.alerts if a["labels"]["alertname"] == "AftercareDatabaseDown")
    assert alert["labels"]["severity"] == "critical"
    assert alert["labels"]["area"] == "database"
    assert alert["annotations"]["runbook_url"].endswith("/docs/runbooks/AftercareDatabaseDown.md")
    assert "billing-pg" in alert["annotations"]["summary"]
    # fault -> page: a failed scrape (<= 1s), `for` (5s), evaluation (<= 1s), group_wait (1s)
    assert latency < 20, latency
    print(f"fault -> page latency: {latency:.1f}s (for={PENDING}, scrape/eval 1s, group_wait 1s)")
    # nothing about this database went to the ticket queue or was sent twice as critical
    assert not [
        n
        for n in webhook_sink.received("/ticket")
        if any(a["labels"].get("database") == "billing-pg" for a in n.alerts)
    ]

    throwaway_pg.start()
    back = time.monotonic()
    webhook_sink.wait_for(
        resolved("AftercareDatabaseDown", system="billing", database="billing-pg"),
        timeout=60,
        path="/oncall",
    )
    print(f"recovery -> resolved notification: {time.monotonic() - back:.1f}s")
