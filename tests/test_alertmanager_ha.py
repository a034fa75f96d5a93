"""Alertmanager as an HA pair: two real Alertmanager 0.25 processes gossiping on loopback,
Prometheus sending every alert to both (docs/scaling.md, "Alertmanager HA").

Alertmanager documents at-least-once delivery: the instances agree through the
gossiped notification log, the one at position N in the cluster waits N x
--cluster.peer-timeout before it looks whether a peer already notified.  So a
healthy pair sends each notification once; a lost instance loses no page (the
survivor sends it); duplicates happen only when the log could not be gossiped
in time (a partition, or a peer lost between sending and gossiping).
"""

from __future__ import annotations

import time

import pytest
import yaml

from devstack import REPO_ROOT
from devstack.alertmanager import ClusteredAlertmanager
from devstack.exporter import ExporterProcess
from devstack.ports import free_port
from devstack.prometheus import Prometheus
from devstack.rulefiles import shortened_rules
from devstack.waiting import wait_until
from devstack.webhook import WebhookSink, firing

PEER_TIMEOUT = 3.0


def oncall_pages(
    sink: WebhookSink, alertname: str, status: str = "firing"
) -> list[tuple[str, str]]:
    """(which instance, group status) of each /amN/oncall notification carrying alertname in
    status."""
    out = []
    for n in sink.received():
        instance, _, receiver = n.path.strip("/").partition("/")
        if receiver == "oncall" and any(
            a["labels"].get("alertname") == alertname and a["status"] == status for a in n.alerts
        ):
            out.append((instance, n.status))
    return out


@pytest.fixture
def stack(tmp_path):
    """Sink, two clustered Alertmanagers (webhook paths /am1/..., /am2/... tell who sent),
    an exporter watching a database that is down, Prometheus sending to both."""
    config_text = (REPO_ROOT / "alertmanager" / "alertmanager.yml").read_text()
    cluster_ports = [free_port(), free_port()]
    with WebhookSink() as sink:
        ams = [
            ClusteredAlertmanager(
                config_text,
                cluster_ports[i],
                [cluster_ports[1 - i]],
                peer_timeout=f"{PEER_TIMEOUT:g}s",
                webhook_address=f"{sink.address}/am{i + 1}",
                timings={"group_wait": "2s", "group_interval": "2s"},
                config_dir=REPO_ROOT / "alertmanager",
            )
            for i in range(2)
        ]
        config = tmp_path / "aftercare.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "systems": [
                        {
                            "name": "ha",
                            "databases": [
                                {
                                    "name": "ha-pg",
                                    "type": "postgresql",
                                    "dsn": f"postgresql://postgres@127.0.0.1:{free_port()}/postgres",
                                }
                            ],
                        }
                    ]
                }
            )
        )
        exporter = ExporterProcess("database", config)
        try:
            for am in ams:
                am.start()
            exporter.start()
            wait_until(
                lambda: all(
                    am.cluster()["status"] == "ready" and len(am.cluster()["peers"]) == 2
                    for am in ams
                ),
                60,
                0.5,
                "the pair to settle",
            )
            rules = shortened_rules(
                tmp_path / "rules", "2s", names=("database.alerts.yml", "meta.alerts.yml")
            )
            with Prometheus(
                scrape_configs=[
                    {
                        "job_name": "aftercare-database",
                        "static_configs": [{"targets": [exporter.address]}],
                    }
                ],
                rule_files=rules,
                alertmanagers=[am.address for am in ams],
            ) as prom:
                yield sink, ams, exporter, prom
        finally:
            exporter.close()
            for am in ams:
                am.close()


def position_order(ams: list[ClusteredAlertmanager]) -> list[ClusteredAlertmanager]:
    """The instances in cluster position order (sorted peer names; position 0 notifies first)."""
    names = sorted(p["name"] for p in ams[0].cluster()["peers"])
    return sorted(ams, key=lambda am: names.index(am.cluster()["name"]))


def test_a_lost_instance_loses_no_page_and_the_pair_sends_each_page_once(stack):
    sink, ams, exporter, prom = stack
    assert [p["address"] for p in ams[0].cluster()["peers"]] != []
    first, second = position_order(ams)
    first_name = "am1" if first is ams[0] else "am2"
    second_name = "am2" if first_name == "am1" else "am1"

    # 1. both alive: the page is sent once, by the instance at position 0
    sink.wait_for(firing("AftercareDatabaseDown", system="ha", database="ha-pg"), timeout=60)
    time.sleep(PEER_TIMEOUT + 2)  # the other instance has looked and stayed silent
    assert oncall_pages(sink, "AftercareDatabaseDown") == [(first_name, "firing")]
    for am in ams:  # both hold the alert: Prometheus sends to each
        assert any(
            a["labels"]["alertname"] == "AftercareDatabaseDown" for a in am.alerts(active=True)
        )

    # 2. kill the instance that pages first while the alert fires; then a new fault
    first.kill()
    exporter.stop()  # AftercareExporterDown: a new page is due
    page = sink.wait_for(firing("AftercareExporterDown", job="aftercare-database"), timeout=60)
    assert page.path == f"/{second_name}/oncall"  # the survivor sent it
    assert page.alerts[0]["annotations"]["runbook_url"].endswith("AftercareExporterDown.md")
    time.sleep(PEER_TIMEOUT + 1)
    assert oncall_pages(sink, "AftercareExporterDown") == [(second_name, "firing")]
    # the gossiped notification log kept the survivor from paging the old alert again
    assert oncall_pages(sink, "AftercareDatabaseDown") == [(first_name, "firing")]
    # Prometheus still sends to both; one of them is gone and that is all it logs
    assert wait_until(
        lambda: (
            "Error sending alert" in prom.log_tail(400)
            or "connection refused" in prom.log_tail(400)
        ),
        30,
        0.5,
        "Prometheus to notice",
    )
