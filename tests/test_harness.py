"""Self-tests of the dev stack (devstack/) against the real binaries."""

from __future__ import annotations

import socket
from pathlib import Path

import psycopg2
import pytest
import yaml

from devstack.alertmanager import PLACEHOLDER_ADDRESS, rewrite_config
from devstack.ports import free_port
from devstack.prometheus import PrometheusError
from devstack.waiting import wait_until
from devstack.webhook import firing, resolved

AM_CONFIG = """
route:
  receiver: oncall
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - matchers: ['severity="ticket"']
      receiver: ticket
      group_interval: 10m
    - matchers: ['severity="none"']
      receiver: watchdog
receivers:
  - name: oncall
    webhook_configs: [{url: "http://127.0.0.1:9099/oncall"}]
  - name: ticket
    webhook_configs: [{url: "http://127.0.0.1:9099/ticket"}]
  - name: watchdog
    webhook_configs: [{url: "http://127.0.0.1:9099/watchdog", send_resolved: false}]
"""

ALWAYS_FIRING_RULES = {
    "groups": [
        {
            "name": "harness",
            "rules": [
                {
                    "alert": "HarnessAlwaysFiring",
                    "expr": "vector(1)",
                    "labels": {"severity": "page", "team": "harness"},
                    "annotations": {"summary": "always firing"},
                }
            ],
        }
    ],
}


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_wait_until_returns_the_value_or_names_what_and_the_last_value() -> None:
    values = iter([0, None, "ready"])
    assert wait_until(lambda: next(values), timeout=2, interval=0.01) == "ready"
    with pytest.raises(AssertionError, match=r"the answer; last value: \[\]"):
        wait_until(lambda: [], timeout=0.2, interval=0.05, what="the answer")
    with pytest.raises(AssertionError, match="ConnectionRefusedError"):
        wait_until(_refused, timeout=0.2, interval=0.05, ignore=(ConnectionRefusedError,))


def _refused() -> bool:
    raise ConnectionRefusedError("nobody home")


def test_prometheus_scrapes_itself_and_reloads_rules(prometheus_factory, tmp_path: Path) -> None:
    prom = prometheus_factory(scrape_self=True)
    targets = prom.wait_for_targets_up(job="prometheus", timeout=20)
    assert targets[0]["scrapeUrl"] == f"{prom.url}/metrics"
    up = prom.query('up{job="prometheus"}')
    assert [s["value"][1] for s in up] == ["1"]
    assert prom.query("vector(2)")[0]["value"][1] == "2"
    with pytest.raises(PrometheusError, match="bad_data"):
        prom.query("sum(")

    rules = tmp_path / "harness.rules.yml"
    rules.write_text(yaml.safe_dump(ALWAYS_FIRING_RULES))
    prom.rule_files = [rules]
    prom.reload()
    assert [g["name"] for g in prom.rules()] == ["harness"]
    prom.wait_for_alert("HarnessAlwaysFiring", timeout=10, labels={"team": "harness"})

    rules.write_text("groups: [{name: broken, rules: [{alert: X, expr: 'sum('}]}]")
    with pytest.raises(PrometheusError, match="reload failed"):
        prom.reload()


def test_firing_alert_reaches_the_webhook_sink(
    prometheus_factory, alertmanager_factory, webhook_sink, tmp_path: Path
) -> None:
    rules = tmp_path / "always.rules.yml"
    rules.write_text(yaml.safe_dump(ALWAYS_FIRING_RULES))
    am = alertmanager_factory(AM_CONFIG)
    prom = prometheus_factory(rule_files=[rules], alertmanagers=[am.address])
    prom.wait_for_alert("HarnessAlwaysFiring", timeout=10)

    notification = webhook_sink.wait_for(
        firing("HarnessAlwaysFiring", severity="page"), timeout=25, path="/oncall"
    )
    alert = notification.alerts[0]
    assert notification.path == "/oncall"
    assert notification.body["receiver"] == "oncall"
    assert alert["labels"] == {
        "alertname": "HarnessAlwaysFiring",
        "severity": "page",
        "team": "harness",
    }
    assert alert["annotations"] == {"summary": "always firing"}
    assert [a["labels"]["alertname"] for a in am.alerts(active=True)] == ["HarnessAlwaysFiring"]
    assert webhook_sink.received("/ticket") == []


def test_alertmanager_config_rewriting(alertmanager_factory, webhook_sink) -> None:
    am = alertmanager_factory(
        AM_CONFIG, timings={"group_wait": "1s", "group_interval": "2s", "repeat_interval": "1m"}
    )
    loaded = yaml.safe_load(am.status()["config"]["original"])
    assert PLACEHOLDER_ADDRESS not in am.config_text
    assert [r["webhook_configs"][0]["url"] for r in loaded["receivers"]] == [
        webhook_sink.url_for("/oncall"),
        webhook_sink.url_for("/ticket"),
        webhook_sink.url_for("/watchdog"),
    ]
    route = loaded["route"]
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == (
        "1s",
        "2s",
        "1m",
    )
    assert route["routes"][0]["group_interval"] == "2s"
    assert "group_interval" not in route["routes"][1]  # children that inherit keep inheriting

    with pytest.raises(ValueError, match="unknown route timing"):
        rewrite_config(AM_CONFIG, timings={"group_by": "1s"})

    # Alerts posted straight to the API route by severity; resolving them notifies too.
    port = am.port
    am.restart()
    assert am.port == port
    alert = {
        "labels": {"alertname": "HarnessTicket", "severity": "ticket"},
        "annotations": {"summary": "posted"},
    }
    am.post_alerts([alert])
    webhook_sink.wait_for(firing("HarnessTicket"), timeout=10, path="/ticket")
    am.post_alerts([{**alert, "endsAt": "2000-01-01T00:00:00Z"}])
    webhook_sink.wait_for(resolved("HarnessTicket", severity="ticket"), timeout=10, path="/ticket")


def test_prometheus_backfill_is_queryable(tmp_path: Path) -> None:
    from devstack.prometheus import Prometheus

    ts = 1_790_000_000  # a fixed instant; queries ask for it explicitly
    openmetrics = (
        "# TYPE harness_value gauge\n"
        f'harness_value{{system="billing"}} 7 {ts}\n'
        f'harness_value{{system="billing"}} 9 {ts + 60}\n'
    )
    prom = Prometheus()
    prom.backfill(openmetrics)  # before the server starts
    with prom:
        assert prom.query("harness_value", time=ts + 30)[0]["value"] == [ts + 30, "7"]
        assert prom.query("harness_value", time=ts + 30)[0]["metric"]["system"] == "billing"
        series = prom.query_range("harness_value", ts, ts + 60, step=60)
        assert [v for _, v in series[0]["values"]] == ["7", "9"]


def test_throwaway_postgres_accepts_then_refuses_after_stop(throwaway_pg) -> None:
    with psycopg2.connect(throwaway_pg.dsn(), connect_timeout=5) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1, current_setting('port'), current_setting('fsync')")
        assert cur.fetchone() == (1, str(throwaway_pg.port), "off")
    conn.close()
    assert throwaway_pg.log_path.exists()
    throwaway_pg.stop()
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(throwaway_pg.dsn(), connect_timeout=2)
    throwaway_pg.start()
    with throwaway_pg.connect() as conn2:
        assert conn2.server_version >= 150000
    conn2.close()


def test_throwaway_postgres_removes_its_directory() -> None:
    from devstack.postgres import ThrowawayPostgres

    with ThrowawayPostgres() as pg:
        directory = pg.dir
        assert (directory / "data" / "PG_VERSION").read_text().strip() == "15"
    assert not directory.exists()


def test_blackhole_accepts_and_never_answers(blackhole) -> None:
    host, port = blackhole.address.split(":")
    with socket.create_connection((host, int(port)), timeout=2) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(1)
    wait_until(lambda: blackhole.accepted >= 1, timeout=2, what="the connection to be accepted")


def test_pg_admin_reaches_the_shared_server(pg_admin) -> None:
    with pg_admin.cursor() as cur:
        cur.execute("SELECT current_user")
        assert cur.fetchone() == ("postgres",)


def test_exporter_process_serves_reloads_and_reports_early_exit(
    exporter_factory, throwaway_pg, tmp_path: Path
) -> None:
    config = tmp_path / "aftercare.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "systems": [
                    {
                        "name": "billing",
                        "databases": [
                            {"name": "db1", "type": "postgresql", "dsn": throwaway_pg.dsn()}
                        ],
                    }
                ]
            }
        )
    )
    exporter = exporter_factory("database", config)
    assert exporter.get("/-/healthy").status_code == 200
    samples = exporter.samples()
    assert ("aftercare_database_up", {"system": "billing", "database": "db1"}, 1.0) in samples
    exporter.send_signal()  # SIGHUP: reload, keep serving
    assert exporter.post("/-/reload").status_code == 200
    assert "aftercare_config_last_reload_successful 1.0" in exporter.metrics_text()
    assert exporter.stop() == 0
    assert "config loaded" in exporter.stderr_text()

    config.write_text("systems: 5\n")
    with pytest.raises(RuntimeError, match=r"exited with code 2[\s\S]*invalid config"):
        exporter_factory("database", config)
