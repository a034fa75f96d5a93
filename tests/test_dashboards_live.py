"""Every dashboard query, run against a real Prometheus scraping the real `all` exporter.

The exporter watches two systems built from the real services on this machine: `billing`
(PostgreSQL, MariaDB, Redis, RabbitMQ, Mosquitto, NATS, local HTTP and HTTPS servers, real log
files, recorded aftercare-job runs, real pg_dump backups) and `crm` (a database, a service, a
link and a backup that are down, a job whose last run failed).  Six hours of history for
availability and the disk forecast are backfilled with promtool.  Every panel target and
annotation of the generated JSON, its variables substituted as Grafana would (All = .*), must
parse and return at least one series, except the reviewed SKIPS below.

Set AFTERCARE_DASHBOARD_PREVIEWS=DIR to also write the PNG previews there (docs/dashboards).
"""

from __future__ import annotations

import datetime as dt
import http.server
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from dashboards import preview
from dashboards.queries import load_dashboards, queries, substitute, variables
from devstack.exporter import ExporterProcess
from devstack.node_exporter import NodeExporter
from devstack.ports import free_port
from devstack.prometheus import Prometheus, PrometheusError
from devstack.rulefiles import shortened_rules
from devstack.waiting import wait_until

JOB = "aftercare-all"
HISTORY = 6 * 3600

# Panels that cannot return data on this machine, with the reason.  Each is still run and
# must parse; reviewed in test_skip_list_is_reviewed.
SKIPS = {
    "aftercare-database/Replication lag/A": (
        "needs a MySQL/MariaDB replica; the machine's MariaDB is a primary"
    ),
    "aftercare-database/Replication lag/B": (
        "needs a streaming PostgreSQL standby (tests/test_database_cluster.py builds one)"
    ),
    "aftercare-database/Age of the last archived WAL segment/A": (
        "needs archive_mode=on; the machine's PostgreSQL does not archive WAL"
    ),
    # rules/ may not hold these areas' alerts yet (database and meta only at first)
    "aftercare-services/annotation: Alerts/A": (
        "needs an alert rule of area services or logs in rules/ firing on crm-web"
    ),
    "aftercare-integrations/annotation: Alerts/A": (
        "needs an alert rule of area integrations in rules/ firing on partner"
    ),
    "aftercare-exchange/annotation: Alerts/A": (
        "needs an alert rule of area exchange in rules/ firing on report-submit"
    ),
    "aftercare-backups/annotation: Alerts/A": (
        "needs an alert rule of area backups in rules/ firing on offsite"
    ),
    "aftercare-hosts/annotation: Alerts/A": (
        "needs a host alert firing on this machine (only an unsynchronised clock may)"
    ),
}


# -- the real parts ----------------------------------------------------------------------------


class Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve(context: ssl.SSLContext | None = None) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    if context:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def tls_context(directory: Path, days: int) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate valid for days."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return context


def pg_dump(path: Path) -> None:
    subprocess.run(
        ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", "-Fc", "-f", str(path), "postgres"],
        check=True,
        timeout=60,
    )


def record_run(config: Path, job: str, script: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "exporters.jobcli",
            "run",
            "--config.file",
            str(config),
            "--job",
            job,
            "--",
            "sh",
            "-c",
            script,
        ],
        capture_output=True,
        timeout=60,
    )


def config(d: Path, web: int, secure: int, closed: int) -> dict:
    pg = "postgresql://postgres@127.0.0.1:5432/postgres"
    return {
        "defaults": {"timeout": "3s", "state_dir": str(d / "state"), "timezone": "UTC"},
        "systems": [
            {
                "name": "billing",
                "databases": [
                    {
                        "name": "billing-pg",
                        "type": "postgresql",
                        "dsn": pg,
                        "top_tables": 5,
                        "log": {"path": str(d / "pg.log"), "format": "stderr"},
                        "data_path": str(d),
                    },
                    {"name": "billing-my", "type": "mysql", "dsn": "mysql://root@127.0.0.1:3306/"},
                ],
                "services": [
                    {
                        "name": "web",
                        "http": {"url": f"http://127.0.0.1:{web}/health", "expect_status": [200]},
                    },
                    {
                        "name": "portal",
                        "http": {"url": f"https://127.0.0.1:{secure}/", "tls_verify": False},
                    },
                    {"name": "rpc", "tcp": {"address": "127.0.0.1:5432"}},
                    {"name": "worker", "process": {"pattern": "postgres"}},
                ],
                "logs": [
                    {
                        "source": "app",
                        "path": str(d / "logs" / "app*.log"),
                        "levels": {"error": "ERROR|Exception", "warning": "WARN"},
                    },
                    {
                        "source": "access",
                        "path": str(d / "logs" / "access.log"),
                        "format": "combined",
                    },
                ],
                "integrations": [
                    {"name": "cache", "redis": {"address": "127.0.0.1:6379"}},
                    {"name": "queue", "amqp": {"url": "amqp://guest:guest@127.0.0.1:5672/"}},
                    {"name": "iot", "mqtt": {"address": "127.0.0.1:1883"}},
                    {"name": "erp-db", "postgresql": {"dsn": pg}},
                    {"name": "shop-db", "mysql": {"dsn": "mysql://root@127.0.0.1:3306/"}},
                    {"name": "bus", "tcp": {"address": "127.0.0.1:4222"}},
                    {"name": "resolver", "dns": {"name": "localhost"}},
                ],
                "exchange": [
                    {
                        "name": "tax-upload",
                        "schedule": "0 2 * * *",
                        "max_duration": "30m",
                        "outbox": {"path": str(d / "outbox"), "pattern": "*.xml"},
                        "log": {"path": str(d / "logs" / "tax-upload.log")},
                    }
                ],
                "backups": [
                    {
                        "name": "nightly",
                        "path": str(d / "dumps" / "*.dump"),
                        "schedule": "30 1 * * *",
                        "verify": "pg_restore",
                    }
                ],
            },
            {
                "name": "crm",
                "databases": [
                    {
                        "name": "crm-pg",
                        "type": "postgresql",
                        "dsn": f"postgresql://postgres@127.0.0.1:{closed}/postgres",
                    }
                ],
                "services": [{"name": "crm-web", "tcp": {"address": f"127.0.0.1:{closed}"}}],
                "integrations": [{"name": "partner", "tcp": {"address": f"127.0.0.1:{closed}"}}],
                "exchange": [{"name": "report-submit", "schedule": "0 * * * *"}],
                "backups": [{"name": "offsite", "path": str(d / "offsite" / "*.dump")}],
            },
        ],
    }


def history(address: str, now: float, free_bytes: float) -> str:
    """Six hours of real-looking history for the series that need time: availability with
    outages (billing web: 10 min, crm-web: 40 min, then down) and a filling disk."""
    labels = f'instance="{address}",job="{JOB}"'
    lines = ["# TYPE aftercare_service_up gauge"]
    start, end = int(now - HISTORY), int(now - 120)
    outages = {
        ("billing", "web"): (start + 3 * 3600, start + 3 * 3600 + 600),
        ("crm", "crm-web"): (start + 3600, start + 3600 + 2400),
    }
    services = [("billing", s) for s in ("web", "portal", "rpc", "worker")] + [("crm", "crm-web")]
    for system, name in services:
        down = outages.get((system, name), (0, 0))
        lines += [
            f'aftercare_service_up{{{labels},service="{name}",system="{system}"}} '
            f"{0 if down[0] <= t < down[1] else 1} {t}"
            for t in range(start, end, 60)
        ]
    lines.append("# TYPE aftercare_integration_up gauge")
    for name in ("cache", "queue", "iot", "erp-db", "shop-db", "bus", "resolver"):
        lines += [
            f'aftercare_integration_up{{{labels},integration="{name}",system="billing"}} 1 {t}'
            for t in range(start, end, 60)
        ]
    lines += [
        f'aftercare_integration_up{{{labels},integration="partner",system="crm"}} '
        f"{0 if t > end - 1800 else 1} {t}"
        for t in range(start, end, 60)
    ]
    lines.append("# TYPE aftercare_database_filesystem_free_bytes gauge")
    lines += [
        "aftercare_database_filesystem_free_bytes"
        f'{{{labels},database="billing-pg",system="billing"}} '
        f"{free_bytes + (end - t) * 40_000:.0f} {t}"
        for t in range(start, end, 60)
    ]
    return "\n".join(lines) + "\n# EOF\n"


def pg_log_line(severity: str, text: str) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return f"{stamp} UTC [4242] {severity}:  {text}\n"


def access_line(status: int, seconds: float) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    return (
        f'127.0.0.1 - - [{stamp}] "GET /api/orders HTTP/1.1" {status} 512 "-" "curl/7.88" '
        f"{seconds}\n"
    )


class Live:
    def __init__(self, prometheus: Prometheus, directory: Path):
        self.prometheus = prometheus
        self.dir = directory


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Live:
    d = tmp_path_factory.mktemp("dashboards-live")
    for sub in ("state", "logs", "outbox", "dumps", "rules"):
        (d / sub).mkdir()
    web, secure = serve(), serve(tls_context(d, days=30))
    closed = free_port()
    pg_dump(d / "dumps" / "2026-01-01.dump")
    pg_dump(d / "dumps" / "2026-01-02.dump")
    for i in range(3):
        (d / "outbox" / f"invoice-{i}.xml").write_text("<invoice/>\n")
    for name in ("app.log", "access.log", "tax-upload.log"):
        (d / "logs" / name).write_text("")
    (d / "pg.log").write_text("")
    config_path = d / "aftercare.yml"
    config_path.write_text(yaml.safe_dump(config(d, web.server_port, secure.server_port, closed)))
    record_run(config_path, "tax-upload", "echo AFTERCARE_RECORDS=120; sleep 0.2")
    record_run(config_path, "report-submit", "echo upload refused >&2; exit 3")

    exporter = ExporterProcess("all", config_path)
    node = NodeExporter()  # this machine as host app1 of billing, as `targets` labels it
    prometheus = Prometheus(
        scrape_configs=[{"job_name": JOB, "static_configs": [{"targets": []}]}],
        rule_files=shortened_rules(d / "rules", pending="1s"),
    )
    try:
        exporter.start()
        node.start()
        prometheus.scrape_configs.append(
            {
                "job_name": "node",
                "static_configs": [
                    {
                        "targets": [node.address],
                        "labels": {"system": "billing", "host": "app1", "role": "app"},
                    }
                ],
            }
        )
        free = next(
            v
            for n, labels, v in exporter.samples()
            if n == "aftercare_database_filesystem_free_bytes"
        )
        prometheus.scrape_configs[0]["static_configs"][0]["targets"] = [exporter.address]
        prometheus.backfill(history(exporter.address, time.time(), free))
        prometheus.start()
        prometheus.wait_for_targets_up(JOB, timeout=30)
        # activity after the exporter's first read: log lines, requests, another job run
        with (
            open(d / "logs" / "app.log", "a") as app,
            open(d / "logs" / "access.log", "a") as access,
            open(d / "pg.log", "a") as pglog,
            open(d / "logs" / "tax-upload.log", "a") as joblog,
        ):
            app.write(
                "2026-01-01 10:00:00 ERROR payment declined\n2026-01-01 10:00:01 WARN slow\n" * 3
            )
            access.write(
                "".join(
                    access_line(s, t) for s, t in [(200, 0.02), (200, 0.3), (404, 0.01), (502, 1.2)]
                )
            )
            pglog.write(
                pg_log_line("ERROR", 'relation "invoices" does not exist')
                + pg_log_line("FATAL", 'password authentication failed for user "app"')
                + pg_log_line("LOG", "duration: 1523.100 ms  statement: SELECT * FROM invoices")
            )
            joblog.write("ERROR upload refused by tax office\n")
        record_run(config_path, "tax-upload", "echo AFTERCARE_RECORDS=80")
        prometheus.wait_for_alert("AftercareDatabaseDown", labels={"system": "crm"}, timeout=30)

        def counted() -> bool:
            wanted = [
                'aftercare_log_lines_total{level="error"} > 0',
                "aftercare_database_log_messages_total > 0",
                "aftercare_database_slow_statements_total > 0",
                "aftercare_http_requests_total > 0",
                "aftercare_backup_verified == 1",
                'aftercare_exchange_runs_total{exchange="tax-upload"} > 1',
                'count_over_time(aftercare_database_up{database="billing-pg"}[1m]) > 4',
            ]
            wanted.append("aftercare:host_cpu_busy:ratio_rate5m")
            return all(prometheus.query(expr) for expr in wanted)

        wait_until(
            counted, 40, interval=0.5, what="log lines, backups and runs counted by Prometheus"
        )
        yield Live(prometheus, d)
    finally:
        prometheus.close()
        node.close()
        exporter.close()
        web.shutdown()
        secure.shutdown()


# -- the proof ---------------------------------------------------------------------------------


def all_queries() -> list:
    return [q for dashboard in load_dashboards().values() for q in queries(dashboard)]


def test_skip_list_is_reviewed():
    keys = {q.key for q in all_queries()}
    assert set(SKIPS) <= keys, f"skip entries for panels that no longer exist: {set(SKIPS) - keys}"
    assert all(len(reason) > 20 for reason in SKIPS.values())
    assert len(SKIPS) <= len(keys) // 10, "more than a tenth of the expressions skipped"


def test_every_panel_query_returns_data(live):
    dashboards = load_dashboards()
    proven, empty, errors = [], [], []
    for dashboard in dashboards.values():
        values = variables(dashboard, range_="6h", rate_interval="1m")
        for q in queries(dashboard):
            expr = substitute(q.expr, values)
            try:
                result = live.prometheus.query(expr)
            except PrometheusError as exc:
                errors.append(f"{q.key}: {exc}")
                continue
            if result:
                proven.append(q.key)
            elif q.key not in SKIPS:
                empty.append(f"{q.key}: {expr}")
    assert not errors, "\n".join(errors)
    assert not empty, "no data:\n" + "\n".join(empty)
    print(
        f"\n{len(proven)} dashboard expressions proven live, {len(SKIPS)} skipped "
        f"({sum(1 for q in all_queries() if q.key in SKIPS and q.key in proven)} of them had data)"
    )
    for uid, dashboard in dashboards.items():
        n = sum(1 for p in dashboard["panels"] if p["type"] != "row")
        print(f"  {uid}: {n} panels, {len(queries(dashboard))} expressions")
    assert len(proven) >= len(all_queries()) - len(SKIPS)


def test_variable_queries_list_the_systems_and_targets(live):
    def label_values(metric: str, label: str, system: str = ".*") -> set[str]:
        data = live.prometheus.api(
            f"label/{label}/values", {"match[]": f'{metric}{{system=~"{system}"}}'}
        )
        return set(data)

    assert label_values("aftercare_scrape_collector_success", "system") == {"billing", "crm"}
    assert label_values("aftercare_database_up", "database") == {
        "billing-pg",
        "billing-my",
        "crm-pg",
    }
    assert label_values("aftercare_database_up", "database", "crm") == {"crm-pg"}
    assert label_values("aftercare_service_up", "service", "billing") == {
        "web",
        "portal",
        "rpc",
        "worker",
    }
    assert label_values("aftercare_integration_up", "integration", "crm") == {"partner"}
    assert label_values("aftercare_exchange_deadline_timestamp_seconds", "exchange") == {
        "tax-upload",
        "report-submit",
    }
    assert label_values("aftercare_backup_up", "backup") == {"nightly", "offsite"}
    assert label_values("aftercare_log_files", "source", "billing") == {"app", "access"}


def overview_value(live, title: str, system: str) -> float:
    dashboard = load_dashboards()["aftercare-overview"]
    (q,) = [q for q in queries(dashboard) if q.panel == title]
    result = live.prometheus.query(substitute(q.expr, variables(dashboard, {"system": system})))
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def test_overview_row_per_system_shows_where_the_trouble_is(live):
    expected = {
        "Databases down": (0, 1),
        "Services down": (0, 1),
        "Integrations down": (0, 1),
        "Exchange jobs late or failed": (0, 1),
        "Backups late or bad": (0, 1),
    }
    for title, (billing, crm) in expected.items():
        assert overview_value(live, title, "billing") == billing, title
        assert overview_value(live, title, "crm") == crm, title
    assert overview_value(live, "Critical alerts", "crm") >= 1  # AftercareDatabaseDown at least
    availability = overview_value(live, "Service availability", "billing")
    assert 0.99 < availability < 0.999  # the backfilled 10-minute outage of billing/web: amber
    assert overview_value(live, "Service availability", "crm") < 0.9


def test_area_panels_show_the_real_values(live):
    dashboards = load_dashboards()

    def run(uid: str, title: str, **selected: str) -> list[dict]:
        (q,) = [q for q in queries(dashboards[uid]) if q.panel == title and q.ref == "A"]
        return live.prometheus.query(substitute(q.expr, variables(dashboards[uid], selected)))

    up = {
        r["metric"]["database"]: float(r["value"][1])
        for r in run("aftercare-database", "Database up")
    }
    assert up == {"billing-pg": 1, "billing-my": 1, "crm-pg": 0}
    (tls,) = run("aftercare-services", "TLS certificate expires in", service="portal")
    assert 29 * 86400 < float(tls["value"][1]) <= 30 * 86400
    errors = run("aftercare-services", "Error lines over the time range", source="app")
    # three ERROR lines were written; increase() extrapolates to the ends of
    # the range (by at most half a scrape interval on each side here)
    (count,) = [float(r["value"][1]) for r in errors]
    assert 3 <= count < 4.5, count
    (failed,) = run("aftercare-exchange", "Last run succeeded", system="crm")
    assert failed["metric"]["exchange"] == "report-submit" and failed["value"][1] == "0"
    (reason,) = run("aftercare-integrations", "Why a link fails")
    assert reason["metric"]["integration"] == "partner" and reason["metric"]["reason"]
    (forecast,) = run(
        "aftercare-database", "Filesystem free in 7 days (forecast)", database="billing-pg"
    )
    (free,) = live.prometheus.query(
        'aftercare_database_filesystem_free_bytes{database="billing-pg"}'
    )
    assert float(forecast["value"][1]) < float(free["value"][1])  # the backfilled trend: filling up


def test_hosts_panels_show_the_machine(live):
    dashboards = load_dashboards()

    def run(title: str) -> list[dict]:
        (q,) = [
            q for q in queries(dashboards["aftercare-hosts"]) if q.panel == title and q.ref == "A"
        ]
        return live.prometheus.query(substitute(q.expr, variables(dashboards["aftercare-hosts"])))

    (up,) = run("Host up")
    assert up["metric"]["host"] == "app1" and up["value"][1] == "1"
    (uptime,) = run("Uptime")
    assert float(uptime["value"][1]) == pytest.approx(time.monotonic(), abs=120)  # since boot
    root = [r for r in run("Filesystem used") if r["metric"]["mountpoint"] == "/"]
    st = os.statvfs("/")
    assert float(root[0]["value"][1]) == pytest.approx(1 - st.f_bavail / st.f_blocks, abs=0.01)


def test_previews_render(live, tmp_path):
    """The HTML previews render every dashboard; with Chromium, PNGs too (kept when asked)."""
    if preview.chromium() is None:
        pytest.fail("chromium is missing: install the Debian package chromium (make system-deps)")
    written = preview.write_previews(live.prometheus.url, tmp_path, png=True)
    pngs = [p for p in written if p.suffix == ".png"]
    assert len(pngs) == len(load_dashboards())
    for png in pngs:
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, png
    overview = (tmp_path / "aftercare-overview.html").read_text()
    assert overview.count('class="row"') == 3  # the alerts row + one repeated row per system
    keep = os.environ.get("AFTERCARE_DASHBOARD_PREVIEWS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for png in pngs:
            shutil.copy(png, Path(keep) / png.name)
