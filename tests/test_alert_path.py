"""Faults on the alert path itself, with the project's rules and Alertmanager
routing: Prometheus killed -> the Watchdog heartbeats stop and a dead-man's
switch notices within its window; an exporter killed -> the exporter-down
alert pages; Alertmanager restarted while alerts fire -> paging resumes and
nothing is lost (an alert that started during the outage is paged, the
resolution after it too)."""

from __future__ import annotations

import signal
import time

import yaml

from devstack.rulefiles import shortened_rules
from devstack.waiting import wait_until
from devstack.webhook import firing, resolved

PENDING = "2s"  # every alert's `for`, shortened
HEARTBEAT = "2s"  # the Watchdog route's repeat_interval, shortened
SWITCH_WINDOW = 8.0  # the dead-man's switch raises the alarm after this long without a heartbeat


class DeadMansSwitch:
    """The pager bridge's heartbeat check: alarm when no Watchdog arrived for ``window``."""

    def __init__(self, sink, window: float):
        self.sink, self.window = sink, window

    def heartbeats(self) -> list[float]:
        return [
            n.received_at
            for n in self.sink.received("/watchdog")
            if any(
                a["labels"].get("alertname") == "Watchdog" and a["status"] == "firing"
                for a in n.alerts
            )
        ]

    def alarm(self, now: float) -> bool:
        beats = self.heartbeats()
        return bool(beats) and now - beats[-1] > self.window


def services_config(tmp_path):
    cfg = tmp_path / "aftercare.yml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "defaults": {"timeout": "1s", "state_dir": str(tmp_path)},
                "systems": [
                    {
                        "name": "billing",
                        "services": [{"name": "rpc", "tcp": {"address": "127.0.0.1:9"}}],
                    }
                ],
            }
        )
    )
    return cfg


def test_prometheus_killed_stops_the_heartbeat_and_the_switch_notices(
    tmp_path, prometheus_factory, alertmanager_factory, webhook_sink
):
    am = alertmanager_factory(
        timings={"group_wait": "1s", "group_interval": "1s", "repeat_interval": HEARTBEAT}
    )
    prom = prometheus_factory(
        rule_files=shortened_rules(tmp_path / "rules", PENDING, names=("meta.alerts.yml",)),
        alertmanagers=[am.address],
    )
    switch = DeadMansSwitch(webhook_sink, SWITCH_WINDOW)
    wait_until(lambda: len(switch.heartbeats()) >= 3, 60, what="three Watchdog heartbeats")
    beats = switch.heartbeats()
    gaps = [b - a for a, b in zip(beats, beats[1:], strict=False)]
    assert max(gaps) < SWITCH_WINDOW, gaps  # a live path never trips the switch
    assert not switch.alarm(time.time())

    prom.process.send_signal(signal.SIGKILL)
    killed = time.time()
    noticed = wait_until(
        lambda: time.time() if switch.alarm(time.time()) else None,
        60,
        interval=0.2,
        what="the dead-man's switch raising the alarm",
    )
    last = switch.heartbeats()[-1]
    # Alertmanager keeps the Watchdog until the end time Prometheus last sent (a few
    # evaluation intervals), then the heartbeats stop and the window runs out
    assert last - killed < 10, last - killed
    assert noticed - killed < 10 + SWITCH_WINDOW + 1, noticed - killed
    time.sleep(3)
    assert switch.heartbeats()[-1] == last  # and they stay stopped
    print(
        f"Prometheus killed -> last heartbeat +{last - killed:.1f}s -> switch alarm "
        f"+{noticed - killed:.1f}s (window {SWITCH_WINDOW:g}s)"
    )
    am.stop()


def test_exporter_killed_pages_and_an_alertmanager_restart_loses_nothing(
    tmp_path, exporter_factory, prometheus_factory, alertmanager_factory, webhook_sink
):
    cfg = services_config(tmp_path)
    first, second = exporter_factory("services", cfg), exporter_factory("services", cfg)
    am = alertmanager_factory()
    prom = prometheus_factory(
        scrape_configs=[
            {
                "job_name": "aftercare-services",
                "static_configs": [{"targets": [first.address, second.address]}],
            }
        ],
        rule_files=shortened_rules(tmp_path / "rules", PENDING, names=("meta.alerts.yml",)),
        alertmanagers=[am.address],
    )
    prom.wait_for_targets_up("aftercare-services")

    first.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    webhook_sink.wait_for(
        firing("AftercareExporterDown", instance=first.address), 60, path="/oncall"
    )
    page_latency = time.monotonic() - killed
    assert page_latency < 20, page_latency

    # Alertmanager goes away; meanwhile the second exporter dies too
    am.stop()
    second.send_signal(signal.SIGKILL)
    prom.wait_for_alert("AftercareExporterDown", labels={"instance": second.address}, timeout=30)
    time.sleep(2)  # Prometheus fails to send for a while
    am.start()  # same port, same storage
    restarted = time.monotonic()
    webhook_sink.wait_for(
        firing("AftercareExporterDown", instance=second.address), 60, path="/oncall"
    )
    resume_latency = time.monotonic() - restarted
    # the first exporter comes back: its resolution is paged by the restarted Alertmanager
    first.start()
    webhook_sink.wait_for(
        resolved("AftercareExporterDown", instance=first.address), 60, path="/oncall"
    )
    # nothing went to the wrong receiver or got lost: both instances were paged as critical
    pages = [
        a
        for n in webhook_sink.received("/oncall")
        for a in n.alerts
        if a["labels"]["alertname"] == "AftercareExporterDown"
    ]
    assert {a["labels"]["instance"] for a in pages} == {first.address, second.address}
    assert {a["labels"]["severity"] for a in pages} == {"critical"}
    print(
        f"exporter killed -> page {page_latency:.1f}s; Alertmanager restarted -> page of the alert "
        f"that began while it was down {resume_latency:.1f}s"
    )
