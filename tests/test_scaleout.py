"""Scale-out on VictoriaMetrics (Debian's victoria-metrics single node): the dev stack's Prometheus
scrapes the demo system live and remote-writes everything to VictoriaMetrics; the report and
the dashboards' queries give the same answers from either server.

Tolerances (docs/scaling.md):
* every figure equal (floats to 1e-9 relative), except
* times and ages: within 1 ms (VictoriaMetrics stores values with about 12 significant
  digits: a Unix time in seconds keeps its milliseconds, not its microseconds);
* figures computed with increase(): within 5 % relative.  Prometheus extrapolates increase()
  to the window's edges, VictoriaMetrics does not (its increase_prometheus() would; the report
  speaks plain PromQL).  Over a 30-second window that is a few per cent, over a month nothing;
* alert end times and durations: within one rule evaluation interval (VictoriaMetrics carries
  the last ALERTS sample one step further in range queries);
* method.* (query timings) and generated_at are not figures.
The window starts on a whole minute (see the fixture) and runs from before Prometheus started.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import time
from pathlib import Path

import pytest

from devstack.exporter import ExporterProcess
from devstack.ports import free_port
from devstack.postgres import ThrowawayPostgres
from devstack.process import spawn, tail, terminate, wait_http_ready
from devstack.prometheus import Prometheus
from devstack.rulefiles import shortened_rules
from devstack.waiting import wait_until
from reportgen.prom import PromClient
from scripts.demo import DemoApp, demo_config, run_job, seed, take_backup, write_report

VM_BIN = "victoria-metrics"
EVALUATION = 1.0
INCREASE_FIGURES = {
    "records",
    "commits_per_second",
    "rollbacks_per_second",
    "cache_hit_ratio",
    "deadlocks",
    "wal_archive_failures",
}
ALERT_TIMES = {"ended_ts", "duration_seconds"}
# checklist items whose value is one of the increase() figures above (the same tolerance)
CHECKLIST_INCREASE_ITEMS = {
    "cache_hit": "cache_hit_ratio",
    "deadlocks": "deadlocks",
    "wal_archiving": "wal_archive_failures",
}


class VictoriaMetrics:
    """victoria-metrics single node on a free loopback port, storage in a temp dir."""

    def __init__(self, directory: Path) -> None:
        assert shutil.which(VM_BIN), "Debian package victoria-metrics is not installed"
        self.dir, self.port = directory, free_port()
        self.log_path = directory / "victoria-metrics.log"
        self.process = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> VictoriaMetrics:
        # latencyOffset=0: answer with the newest samples (default: hide the last 30 s);
        # disableCache: no rounding of range-query starts to the step for caching
        self.process = spawn(
            [
                VM_BIN,
                f"-httpListenAddr=127.0.0.1:{self.port}",
                f"-storageDataPath={self.dir / 'data'}",
                "-retentionPeriod=1",
                "-search.latencyOffset=0s",
                "-search.disableCache",
                "-loggerLevel=ERROR",
            ],
            self.log_path,
        )
        wait_http_ready(self.process, f"{self.url}/health", 30, self.log_path, "victoria-metrics")
        return self

    def __exit__(self, *exc) -> None:
        terminate(self.process)


def query(url: str, expr: str, at: float) -> list:
    """An instant query's result as the server sent it (PromError if it fails)."""
    return PromClient(url, retries=0).api("query", query=expr, time=f"{at:.3f}")["result"]


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Prometheus and VictoriaMetrics holding the same ~30 s of the demo system: a job success,
    a failure, a backup, the web app down for 8 s (ServiceDown fires); then both reports."""
    work = tmp_path_factory.mktemp("scaleout")
    with VictoriaMetrics(work) as vm, ThrowawayPostgres() as pg:
        seed(pg)
        app = DemoApp(work, pg.dsn())
        config = demo_config(work, pg, app.url)
        app.start()
        try:
            with (
                ExporterProcess("all", config) as exporter,
                Prometheus(
                    scrape_configs=[
                        {
                            "job_name": "aftercare",
                            "static_configs": [{"targets": [exporter.address]}],
                        }
                    ],
                    rule_files=shortened_rules(work / "rules", "2s"),
                    scrape_interval="1s",
                    evaluation_interval=f"{EVALUATION:g}s",
                    extra_config={
                        "remote_write": [
                            {
                                "url": f"{vm.url}/api/v1/write",
                                "queue_config": {"batch_send_deadline": "1s"},
                            }
                        ]
                    },
                ) as prom,
            ):
                prom.wait_for_targets_up()
                # a whole minute: VictoriaMetrics rounds a range query's start down to a multiple
                # of its step (unless nocache=1), Prometheus does not; the report's outage query
                # is a range query with a 60 s step, so only an aligned start gives both servers
                # the same evaluation instants (docs/scaling.md)
                start = math.floor(time.time() / 60) * 60
                assert run_job(config, work) == 0 and run_job(config, work, fail=True) == 3
                take_backup(pg, work)
                time.sleep(5)
                app.stop()
                prom.wait_for_alert(
                    "AftercareServiceDown", timeout=30, labels={"service": "demo-web"}
                )
                app.start()
                assert run_job(config, work) == 0
                time.sleep(5)
                end = time.time()
                probe = f"count_over_time(aftercare_service_up[{end - start:.0f}s])"
                wait_until(
                    lambda: query(vm.url, probe, end) == query(prom.url, probe, end),
                    30,
                    0.5,
                    f"VictoriaMetrics to hold what Prometheus holds; log: {tail(vm.log_path)}",
                )
                reports = {}
                for name, url in (("prometheus", prom.url), ("victoriametrics", vm.url)):
                    result = write_report(url, config, start, end, work / name, formats="json")
                    assert result.returncode == 0, f"{name}: {result.stderr}"
                    [path] = (work / name).glob("*.json")
                    reports[name] = json.loads(path.read_text())
                yield prom, vm, reports, end
        finally:
            app.stop()


def differences(a, b, path="", increase_tol: float = 0.05) -> list[str]:
    """Where two report JSON trees differ beyond the stated tolerances.

    ``increase_tol``: Prometheus extrapolates ``increase()`` towards the
    window's edges (by up to 1.1 scrape intervals each side), VictoriaMetrics
    does not, so the two differ by up to ~2.2 intervals over the samples the
    window holds."""
    key = path.rsplit(".", 1)[-1]
    if path in (".generated_at", ".method"):
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{path}: keys {sorted(set(a) ^ set(b))}"]
        figure = CHECKLIST_INCREASE_ITEMS.get(a.get("item")) if "value" in a else None
        if figure is None and "value" in a and a.get("unit") == "seconds":
            figure = "value_seconds"  # a checklist time: the seconds figures' tolerance
        return [
            d
            for k in a
            for d in differences(
                a[k],
                b[k],
                f"{path}.{figure}" if figure and k == "value" else f"{path}.{k}",
                increase_tol,
            )
        ]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} vs {len(b)} entries"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in differences(x, y, f"{path}[{i}]", increase_tol)
        ]
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        if key in INCREASE_FIGURES:
            ok = math.isclose(a, b, rel_tol=increase_tol, abs_tol=1e-9)
        elif key in ALERT_TIMES:
            ok = abs(a - b) <= EVALUATION + 1e-6
        elif "seconds" in key or key.endswith("_ts") or key == "last_success":
            ok = math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-3)
        else:
            ok = math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
        return [] if ok else [f"{path}: {a!r} vs {b!r}"]
    return [] if a == b else [f"{path}: {a!r} vs {b!r}"]


def test_the_report_gives_the_same_figures_from_victoriametrics(servers):
    prom_server, _, reports, end = servers
    prom, vm = reports["prometheus"], reports["victoriametrics"]
    # samples (one per 1 s scrape) the database counters have inside the report's window
    start = dt.datetime.fromisoformat(prom["period"]["from"]).timestamp()
    window = f"{end - start:.0f}s"
    held = max(
        float(r["value"][1])
        for r in query(
            prom_server.url, f"count_over_time(aftercare_database_commits_total[{window}])", end
        )
    )
    tol = max(0.05, 2.2 / held)
    print(f"increase() tolerance {tol:.3f} over {held:.0f} samples")
    found = differences(prom, vm, increase_tol=tol)
    assert not found, "\n".join(found)
    # the figures compared are real ones, not empty sections
    [system] = prom["systems"]
    web = next(s for s in system["services"] if s["name"] == "demo-web")
    assert 0 < web["availability_ratio"] < 1 and web["downtime_seconds"] > 0
    assert system["exchange"][0]["failures"] == 1
    assert system["backups"][0]["successes"] == 1
    assert any(a["alertname"] == "AftercareServiceDown" for a in system["alerts"])
    assert system["databases"][0]["size_bytes_end"] > 0


def test_the_comparison_can_fail():
    a = {
        "systems": [
            {
                "services": [{"availability_ratio": 0.75}],
                "exchange": [{"records": 40}],
                "backups": [{"max_age_seconds": 12.9004}],
            }
        ]
    }
    b = {
        "systems": [
            {
                "services": [{"availability_ratio": 0.7501}],
                "exchange": [{"records": 44}],
                "backups": [{"max_age_seconds": 12.902}],
            }
        ]
    }
    assert differences(a, b) == [
        ".systems[0].services[0].availability_ratio: 0.75 vs 0.7501",
        ".systems[0].exchange[0].records: 40 vs 44",
        ".systems[0].backups[0].max_age_seconds: 12.9004 vs 12.902",
    ]
    assert differences(a, a) == []


def series(result: list) -> list[str]:
    """The label sets a panel would draw.  Two known differences are not the panel's business:
    VictoriaMetrics 1.79 keeps __name__ on *_over_time() results (a legend never shows it), and
    it drops NaN results (histogram_quantile() of zero rates) where Prometheus returns NaN."""
    return sorted(
        json.dumps({k: v for k, v in r["metric"].items() if k != "__name__"}, sort_keys=True)
        for r in result
        if r["value"][1] != "NaN"
    )


def test_the_dashboards_queries_answer_alike_on_victoriametrics(servers):
    from dashboards.queries import load_dashboards, queries, substitute, variables

    prom, vm, _, end = servers
    compared = answered = 0
    mismatched = []
    for dashboard in load_dashboards().values():
        values = variables(dashboard, {"system": "demo"}, range_="30s", rate_interval="10s")
        for q in queries(dashboard):
            expr = substitute(q.expr, values)
            from_prom, from_vm = query(prom.url, expr, end), query(vm.url, expr, end)
            compared += 1
            answered += bool(from_prom)
            if series(from_prom) != series(from_vm):
                mismatched.append(
                    f"{q.key}: {expr}\n  prometheus {series(from_prom)}\n  vm {series(from_vm)}"
                )
    assert compared > 20 and answered > compared / 3
    assert not mismatched, "\n".join(mismatched)
