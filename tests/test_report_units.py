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


@pytest.mark.parametrize("month,tz,days,hours", [
    ("2026-10", "Asia/Shanghai", 31, 744), ("2026-02", "UTC", 28, 672), ("2028-02", "UTC", 29, 696),
    ("2026-03", "Europe/Berlin", 31, 743), ("2026-10", "Europe/Berlin", 31, 745),
])
def test_calendar_months_in_the_system_time_zone(month, tz, days, hours):
    period = month_period(month, tz)
    assert len(period.days()) == days
    assert period.seconds == hours * 3600
    assert period.start.hour == 0 and period.start.day == 1


def test_period_arguments():
    assert month_period("2026-10", "Asia/Shanghai").start.isoformat() == "2026-10-01T00:00:00+08:00"
    p = explicit_period("2026-10-03", "2026-10-03", "UTC")      # --to is an inclusive day
    assert p.seconds == 86400
    with pytest.raises(PeriodError):
        month_period("2026-13", "UTC")
    with pytest.raises(PeriodError):
        explicit_period("2026-10-05", "2026-10-01", "UTC")
    import datetime as dt
    assert previous_month("UTC", dt.datetime(2026, 1, 15, tzinfo=dt.timezone.utc)) == "2025-12"
    assert month_period("2026-01", "UTC").previous().label == "2025-12"


def test_episodes_sample_interval_and_counter_increments():
    assert episodes([0, 60, 120, 600, 660], 60) == [(0, 120), (600, 660)]
    assert sample_interval([15, 15, 15, 3, 0]) == 60
    assert increments({0: 5, 3600: 7, 7200: 2, 10800: 4}) == {3600: 2, 7200: 2, 10800: 2}


def test_alert_samples_merge_within_the_tolerance_only():
    key = (("__name__", "ALERTS"), ("alertname", "X"), ("alertstate", "firing"),
           ("severity", "warning"), ("system", "s"))
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
