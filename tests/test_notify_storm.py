"""A storm through the whole path: a real Alertmanager HA pair -> aftercare-notify ->
a DingTalk robot endpoint (tests/vendor_receivers.py) that is down at first, with
aftercare-notify killed (-9) and restarted mid-way.  Afterwards every alert was
delivered, none twice, and the robot's 20 messages a minute were never exceeded."""

from __future__ import annotations

import datetime as dt
import re
import statistics
import time

import yaml

from devstack.alertmanager import ClusteredAlertmanager
from devstack.notify import NotifyProcess
from devstack.ports import free_port
from devstack.waiting import wait_until
from tests.vendor_receivers import VendorRobot

GROUPS, PER_GROUP = 40, 5
AM_CONFIG = """
route:
  receiver: ding
  group_by: [alertname, group]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 4h
receivers:
  - name: ding
    webhook_configs:
      - url: http://{address}/notify/ding
        send_resolved: true
"""
SHOWN = re.compile(r"\*\*\[告警\] storm alert (\d{3})\*\*")


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def storm_alerts(groups: range) -> list[dict]:
    now = time.time()
    return [
        {
            "labels": {
                "alertname": "StormAlert",
                "group": f"g{g:02d}",
                "n": f"{n:03d}",
                "severity": "critical",
                "system": "storm",
                "area": "meta",
            },
            "annotations": {"summary": f"storm alert {n:03d}"},
            "startsAt": iso(now),
            "endsAt": iso(now + 3600),
        }
        for g in groups
        for n in range(g * PER_GROUP, (g + 1) * PER_GROUP)
    ]


def test_storm_with_the_robot_down_and_a_kill_midway(tmp_path):
    robot = VendorRobot("dingtalk", "stormtoken0123456789abcdef", "SECstorm0123456789secret")
    (tmp_path / "ding.url").write_text(robot.url)
    (tmp_path / "ding.secret").write_text(robot.secret)
    config = tmp_path / "aftercare.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "defaults": {"state_dir": str(tmp_path / "state")},
                "systems": [{"name": "storm"}],
                "notify": {
                    "retry_initial": "200ms",
                    "retry_max": "2s",
                    "channels": [
                        {
                            "name": "ding",
                            "type": "dingtalk",
                            "url_file": "ding.url",
                            "secret_file": "ding.secret",
                        }
                    ],
                },
            }
        )
    )
    notify = NotifyProcess(config)
    cluster = [free_port(), free_port()]
    ams = []
    posted: dict[str, float] = {}
    try:
        notify.start()
        for i in range(2):
            config_text = AM_CONFIG.format(address=notify.address)
            ams.append(
                ClusteredAlertmanager(
                    config_text, cluster[i], [cluster[1 - i]], peer_timeout="2s", timings={}
                ).start()
            )

        def post(groups: range) -> None:
            alerts = storm_alerts(groups)
            for am in ams:  # as Prometheus does: to every Alertmanager
                am.post_alerts(alerts)
            now = time.time()
            posted.update((a["labels"]["n"], now) for a in alerts)

        def queued() -> float:
            return notify.metric("aftercare_notify_queue_length", channel="ding")

        post(range(0, GROUPS // 2))
        wait_until(
            lambda: queued() >= GROUPS // 2, 30, what="the first half spooled", ignore=(OSError,)
        )
        notify.kill()  # kill -9 with the whole first half queued
        post(range(GROUPS // 2, GROUPS))  # Alertmanager retries while it is away
        time.sleep(3)
        notify.start()  # same port, same state: replays the spool
        wait_until(lambda: queued() >= GROUPS, 40, what="every group spooled", ignore=(OSError,))
        robot.up()

        def delivered() -> list[str]:
            return [n for text in robot.texts() for n in SHOWN.findall(text)]

        wait_until(
            lambda: len(set(delivered())) == GROUPS * PER_GROUP, 90, what="every alert delivered"
        )
        time.sleep(3)  # time for a duplicate to show up
        seen = delivered()
        assert sorted(seen) == sorted(posted), "an alert missing or delivered twice"
        assert robot.rejected == []  # signature and shape accepted every time
        assert robot.max_per_minute() <= 20
        wait_until(lambda: queued() == 0, 10, what="an empty queue")
        storm = dict(posted)
        storm_messages = len(robot.messages)

        # then, everything healthy: 50 more alerts in 10 groups
        post(range(GROUPS, GROUPS + 10))
        wait_until(lambda: len(set(delivered())) == len(posted), 30, what="the healthy batch")
        time.sleep(2)
        assert sorted(delivered()) == sorted(posted)
        assert robot.rejected == [] and robot.max_per_minute() <= 20
        first = {}
        for message in robot.messages:
            for n in SHOWN.findall(message.text):
                first.setdefault(n, message.at)

        def spread(alerts) -> str:
            latency = sorted(first[n] - posted[n] for n in alerts)
            p99 = latency[int(0.99 * (len(latency) - 1))]
            return f"median {statistics.median(latency):.1f}s p99 {p99:.1f}s"

        duplicates = notify.metric(
            "aftercare_notify_messages_total", channel="ding", result="duplicate"
        )
        print(
            f"\nstorm: {len(storm)} alerts, {storm_messages} robot messages, "
            f"{duplicates:g} HA duplicates suppressed; latency Alertmanager -> robot "
            f"{spread(storm)} (robot down and aftercare-notify killed meanwhile); "
            f"then 50 alerts healthy: {spread(set(posted) - set(storm))}, "
            f"{len(robot.messages) - storm_messages} messages"
        )
    finally:
        robot.down()
        for am in ams:
            am.close()
        notify.close()
