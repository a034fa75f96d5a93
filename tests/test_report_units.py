"""Plain functions of the report, without HTTP: periods, episodes, counters, grades."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from reportgen.analysis.common import episodes, sample_interval, worst
from reportgen.analysis.logs import increments
from reportgen.analysis.stability import incidents
from reportgen.period import PeriodError, explicit_period, month_period, previous_month
from reportgen.render import render_html, render_md

FIXTURE = Path(__file__).parent / "fixtures" / "report" / "report-2026-10.json"


@pytest.mark.parametrize(
    "month,tz,days,hours",
    [
        ("2026-10", "Asia/Shanghai", 31, 744),
        ("2026-02", "UTC", 28, 672),
        ("2028-02", "UTC", 29, 696),
        ("2026-03", "Europe/Berlin", 31, 743),
        ("2026-10", "Europe/Berlin", 31, 745),
    ],
)
def test_calendar_months_in_the_system_time_zone(month, tz, days, hours):
    period = month_period(month, tz)
    assert len(period.days()) == days
    assert period.seconds == hours * 3600
    assert period.start.hour == 0 and period.start.day == 1


def test_period_arguments():
    assert month_period("2026-10", "Asia/Shanghai").start.isoformat() == "2026-10-01T00:00:00+08:00"
    p = explicit_period("2026-10-03", "2026-10-03", "UTC")  # --to is an inclusive day
    assert p.seconds == 86400
    with pytest.raises(PeriodError):
        month_period("2026-13", "UTC")
    with pytest.raises(PeriodError):
        explicit_period("2026-10-05", "2026-10-01", "UTC")
    import datetime as dt

    assert previous_month("UTC", dt.datetime(2026, 1, 15, tzinfo=dt.UTC)) == "2025-12"
    assert month_period("2026-01", "UTC").previous().label == "2025-12"


def test_episodes_sample_interval_and_counter_increments():
    assert episodes([0, 60, 120, 600, 660], 60) == [(0, 120), (600, 660)]
    assert sample_interval([15, 15, 15, 3, 0]) == 60
    assert increments({0: 5, 3600: 7, 7200: 2, 10800: 4}) == {3600: 2, 7200: 2, 10800: 2}


def test_alert_samples_merge_within_the_tolerance_only():
    key = (
        ("__name__", "ALERTS"),
        ("alertname", "X"),
        ("alertstate", "firing"),
        ("severity", "warning"),
        ("system", "s"),
    )
    points = [(t, 1.0) for t in (0, 60, 120, 400, 460, 1000)]
    got = incidents({key: points}, {}, period_end=10_000, tolerance=300)
    assert [(a["started"], a["ended"]) for a in got] == [(0, 460), (1000, 1000)]
    assert not got[-1]["ongoing"]
    assert incidents({key: points}, {}, period_end=1100)[-1]["ongoing"]


def test_worst_grade_and_no_data():
    assert worst(["healthy", "no_data"]) == "healthy"
    assert worst(["no_data"]) == "no_data"
    assert worst(["attention", "critical"]) == "critical"


def test_rendering_tolerates_partial_log_levels():
    report = json.loads(FIXTURE.read_text())
    partial = copy.deepcopy(report)
    partial["systems"][0]["logs"][0]["lines"] = {"error": 7}
    assert "7" in render_html(partial, "en") and "app: Error lines 7" in render_md(partial, "en")


# -- figures added for traffic, capacity, data protection, month over month -----------------


def test_histogram_quantile_interpolates_inside_the_bucket_like_promql():
    import math

    from reportgen.analysis.traffic import histogram_quantile

    cumulative = {0.1: 0, 0.25: 90, 2.0: 98, 5.0: 100, math.inf: 100}
    assert histogram_quantile(0.5, cumulative) == pytest.approx(0.1 + 0.15 * 50 / 90)
    assert histogram_quantile(0.95, cumulative) == pytest.approx(0.25 + 1.75 * 5 / 8)
    # the rank falls in +Inf: the highest finite bound, as histogram_quantile answers
    assert histogram_quantile(0.99, {1.0: 10, math.inf: 100}) == 1.0
    assert histogram_quantile(0.5, {1.0: 0, math.inf: 0}) is None
    assert histogram_quantile(0.5, {1.0: 3}) is None  # no +Inf bucket: not a histogram


def test_top_growers_leave_other_tables_out_and_mark_partial_members():
    from reportgen.analysis.capacity import compute_tables

    period = month_period("2026-10", "UTC")
    day = 86400.0
    days = [period.start_ts + i * day for i in range(31)]
    tables = {
        ("app", "orders"): {
            "first": 100.0,
            "days": {t: 100.0 + 10 * (i + 1) for i, t in enumerate(days)},
        },
        ("app", "new"): {
            "first": None,
            "days": {t: 50.0 + i for i, t in enumerate(days) if i >= 20},
        },
        ("app", "gone"): {"first": 70.0, "days": {t: 70.0 for i, t in enumerate(days) if i < 10}},
        ("app", "__other__"): {"first": 500.0, "days": {t: 2000.0 for t in days}},
    }
    got = compute_tables(tables, period)
    assert [(g["table"], g["growth_bytes"], g["partial"]) for g in got["top_growers"]] == [
        ("orders", 310.0, False),
        ("new", 10.0, True),
        ("gone", 0.0, True),
    ]
    assert got["other_tables"] == [
        {
            "datname": "app",
            "table": "__other__",
            "size_bytes_start": 500.0,
            "size_bytes_end": 2000.0,
            "growth_bytes": 1500.0,
        }
    ]
    # totals: what was reported at the start and at the end, __other__ included
    assert got["tables_total_bytes_start"] == 100.0 + 70.0 + 500.0
    assert got["tables_total_bytes_end"] == 410.0 + 80.0 + 2000.0
    assert compute_tables({}, period)["tables_total_bytes_end"] is None


def test_filesystem_forecast_follows_the_filesystem_not_the_database():
    from reportgen.analysis.capacity import compute_filesystem

    hours = [i * 3600.0 for i in range(48)]
    free = {t: 1000.0 - t / 3600 for t in hours}  # 24 bytes a day used
    size = {t: 2000.0 for t in hours}
    fs = compute_filesystem(free, size)
    assert fs["filesystem_growth_bytes_per_day"] == pytest.approx(24.0)
    assert fs["days_until_full"] == pytest.approx(free[hours[-1]] / 24.0)
    assert fs["filesystem_used_ratio_start"] == pytest.approx(0.5)
    shrinking = compute_filesystem({t: 1000.0 + t for t in hours}, size)
    assert shrinking["days_until_full"] is None  # no forecast when use does not grow
    assert compute_filesystem({}, {})["days_until_full"] is None


def test_wal_failures_per_local_day():
    from reportgen.analysis.backups import compute_wal

    period = month_period("2026-10", "Asia/Shanghai")
    start = period.start_ts
    got = compute_wal({start + 3600: 2.0, start + 86400 * 3 + 7200: 1.0}, {start: 5.0}, period)
    assert (got["failures"], got["archived"], got["days_with_failures"]) == (3, 5, 2)
    assert [d["day"] for d in got["daily"] if d["failures"]] == ["2026-10-01", "2026-10-04"]
    assert compute_wal(None, None, period)["failures"] is None


def test_month_over_month_compares_only_figures_the_previous_period_has():
    from reportgen.analysis.comparison import compare

    report = json.loads(FIXTURE.read_text())
    current = report["systems"][0]
    previous = copy.deepcopy(current)
    previous["services"][0]["availability_ratio"] = 0.5
    previous["performance"]["services"][0]["p95_seconds"] = None
    previous["alerts"] = []
    previous["stability"] = {
        "incidents": 1,
        "by_severity": {"critical": 1},
        "mean_time_to_resolve_seconds": 60.0,
    }
    got = compare(current, previous, "2026-09")
    rows = {(a, r["target"], r["figure"]): r for a, rs in got["areas"].items() for r in rs}
    web = rows[("availability", "web", "availability_ratio")]
    assert web["change"] == pytest.approx(current["services"][0]["availability_ratio"] - 0.5)
    assert ("performance", "web", "p95_seconds") not in rows
    assert rows[("stability", "", "incidents_critical")]["current"] == 2
    empty = copy.deepcopy(previous)
    for key in (
        "services",
        "integrations",
        "databases",
        "exchange",
        "backups",
        "logs",
        "wal_archiving",
    ):
        empty[key] = []
    empty["performance"] = {"services": [], "databases": [], "traffic": []}
    empty["has_data"], empty["stability"]["by_severity"] = False, {}
    assert compare(current, empty, "2026-09") is None


def test_runbook_links_point_only_at_runbooks_that_exist():
    from reportgen import runbooks

    root = Path(__file__).resolve().parent.parent
    for name in runbooks.SHIPPED | runbooks.existing():
        assert (root / runbooks.DIRECTORY / f"{name}.md").is_file(), name
    assert runbooks.existing() >= runbooks.SHIPPED
    assert (root / runbooks.INDEX).is_file()
    for key in runbooks.ALERT_FOR:
        link = runbooks.for_recommendation(key)
        assert (root / link).is_file(), (key, link)
    assert runbooks.for_alert("AftercareDatabaseDown") == "docs/runbooks/AftercareDatabaseDown.md"
    assert runbooks.for_alert("NoSuchAlert") == runbooks.INDEX


def test_alerts_of_the_rules_link_their_runbooks():
    """Every alert of rules/*.alerts.yml links its runbook once written, the index before."""
    import yaml

    from reportgen import runbooks

    root = Path(__file__).resolve().parent.parent
    alerts = {
        rule["alert"]
        for path in (root / "rules").glob("*.alerts.yml")
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    assert set(runbooks.ALERT_FOR.values()) <= alerts  # recommendations name real alerts
    for name in alerts:
        if (root / runbooks.DIRECTORY / f"{name}.md").is_file():
            assert runbooks.for_alert(name) == f"docs/runbooks/{name}.md", name
        else:
            assert runbooks.for_alert(name) == runbooks.INDEX, name


def test_severity_words_are_translated():
    report = json.loads(FIXTURE.read_text())
    zh, en = render_html(report, "zh"), render_html(report, "en")
    assert "严重 2" in zh and "警告 1" in zh and "critical 2" not in zh
    assert "critical 2, warning 1" in en
    assert "<td>严重</td>" in zh


def test_buckets_keep_the_last_partial_bucket():
    from reportgen.prom import buckets

    class Recorder:
        max_range = 768 * 3600.0

        def __init__(self):
            self.calls = []

        def range(self, expr, start, end, step):
            self.calls.append(("range", expr, start, end, step))
            return {(("a", "1"),): [(start, 1.0), (start + step, 2.0)]}

        def instant(self, expr, at):
            self.calls.append(("instant", expr, at))
            return [{"metric": {"a": "1"}, "value": [at, "3"]}]

    client = Recorder()
    got = buckets(client, "sum_over_time(x[{w}])", 0.0, 2100.0, 900.0)
    assert got == {(("a", "1"),): {0.0: 1.0, 900.0: 2.0, 1800.0: 3.0}}
    assert client.calls[0] == ("range", "sum_over_time(x[899999ms])", 899.999, 1799.999, 900.0)
    assert client.calls[1] == ("instant", "sum_over_time(x[299999ms])", 2099.999)
    short = Recorder()
    assert buckets(short, "x[{w}]", 0.0, 600.0, 900.0) == {(("a", "1"),): {0.0: 3.0}}
    assert [c[0] for c in short.calls] == ["instant"]


def test_days_until_full_takes_the_earlier_forecast():
    """A database growing 1 GiB/day on a filesystem whose free space has not
    moved yet (e.g. preallocated files): the database's growth still forecasts."""
    from reportgen.analysis.capacity import compute_database

    period = month_period("2026-10", "UTC")
    hours = [period.start_ts + h * 3600 for h in range(0, 240)]
    gib = 2**30
    sizes = {"app": {t: 10 * gib + (t - hours[0]) / 86400 * gib for t in hours}}
    free = {t: 50 * gib for t in hours}
    size = {t: 100 * gib for t in hours}
    row = compute_database(sizes, free, size, 5, 100, {}, period)
    assert row["days_until_full_by_filesystem_trend"] is None  # no fs trend
    assert row["days_until_full_by_database_growth"] == pytest.approx(50.0, rel=1e-9)
    assert row["days_until_full"] == pytest.approx(50.0, rel=1e-9)
    # when the filesystem fills faster than the databases grow, its trend wins
    free2 = {t: 50 * gib - (t - hours[0]) / 86400 * 5 * gib for t in hours}
    row2 = compute_database(sizes, free2, size, 5, 100, {}, period)
    assert row2["days_until_full"] == pytest.approx(row2["days_until_full_by_filesystem_trend"])
    assert row2["days_until_full"] < row2["days_until_full_by_database_growth"]
