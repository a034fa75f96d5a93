"""The report's completed slow statements, per day, and the slowest statements by mean time:
known history in a real Prometheus, expectations computed here from the same samples."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from devstack.history import History, steps
from devstack.prometheus import Prometheus

SH = ZoneInfo("Asia/Shanghai")
REPO = Path(__file__).resolve().parent.parent
START = dt.datetime(2026, 10, 1, tzinfo=SH).timestamp()
END = dt.datetime(2026, 11, 1, tzinfo=SH).timestamp()
DB = {"system": "alpha", "database": "pg"}
CONFIG = """
defaults: {timeout: 5s, timezone: Asia/Shanghai}
systems:
  - name: alpha
    databases:
      - {name: pg, type: postgresql, dsn: "postgresql://monitor@db1:5432/app"}
"""
# slow statements: on these local days, this many (plus some before and after the month)
SLOW_DAYS = {5: 3, 12: 7, 30: 1}
# queryid -> (text or None, calls per 5 minutes, seconds per call)
STATEMENTS = {
    "111": ("SELECT * FROM invoices WHERE customer = $1", 2, 0.5),
    "222": ("UPDATE accounts SET balance = balance - $1 WHERE id = $2", 20, 0.05),
    "333": (None, 1, 0.8),
}  # a utility statement: no text exposed


def local(day: int, hour: int = 0, minute: int = 0, month: int = 10) -> float:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=SH).timestamp()


def slow_events() -> list[float]:
    events = [local(30, 12, month=9), local(1, 3, month=11)]  # outside the month
    for day, n in SLOW_DAYS.items():
        events += [local(day, 10, 7 * i) for i in range(n)]
    return sorted(events)


def build() -> History:
    h = History()
    five = steps(START - 86400, END + 86400, 300)
    h.add("aftercare_database_up", DB, [(t, 1.0) for t in five])
    events = slow_events()
    h.add(
        "aftercare_database_slow_statements_total",
        DB,
        [(t, float(sum(1 for e in events if e <= t))) for t in five],
        "counter",
    )
    for queryid, (text, calls, mean) in STATEMENTS.items():
        labels = {**DB, "datname": "app", "queryid": queryid}
        h.add(
            "aftercare_database_statement_calls_total",
            labels,
            [(t, float(i * calls)) for i, t in enumerate(five)],
            "counter",
        )
        h.add(
            "aftercare_database_statement_seconds_total",
            labels,
            [(t, i * calls * mean) for i, t in enumerate(five)],
            "counter",
        )
        if text:
            h.add(
                "aftercare_database_statement_info",
                {**labels, "statement": text},
                [(t, 1.0) for t in five],
            )
    return h


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    h = build()
    prom = Prometheus(extra_args=["--storage.tsdb.retention.time=3650d"])
    try:
        h.backfill(str(prom.storage_path))
        prom.start()
        tmp = tmp_path_factory.mktemp("slow")
        (tmp / "aftercare.yml").write_text(CONFIG)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "reportgen.cli",
                "--prometheus",
                prom.url,
                "--config.file",
                str(tmp / "aftercare.yml"),
                "--out",
                str(tmp / "out"),
                "--period",
                "2026-10",
                "--format",
                "json,html,md",
                "--lang",
                "zh",
                "--no-previous",
            ],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=REPO,
        )
        assert result.returncode == 0, result.stderr
        out = tmp / "out"
        return {
            "json": json.loads((out / "aftercare-report-2026-10-zh.json").read_text()),
            "html": (out / "aftercare-report-2026-10-zh.html").read_text(),
            "md": (out / "aftercare-report-2026-10-zh.md").read_text(),
        }
    finally:
        prom.close()


def test_slow_statements_of_the_month_and_per_day(report):
    db = report["json"]["systems"][0]["performance"]["databases"][0]
    assert db["slow_statements"] == sum(SLOW_DAYS.values())
    per_day = {
        dt.datetime.fromtimestamp(d["day"], SH).day: d["count"]
        for d in db["slow_statements_per_day"]
    }
    assert len(per_day) == 31  # every day of October
    assert per_day == {day: SLOW_DAYS.get(day, 0) for day in range(1, 32)}
    assert "已完成的慢语句" in report["html"] and "2026-10-12：7 条" in report["html"]


def test_slowest_statements_by_mean_time_with_their_text(report):
    db = report["json"]["systems"][0]["performance"]["databases"][0]
    slowest = db["slowest_statements"]
    assert [q["queryid"] for q in slowest] == ["333", "111", "222"]  # by mean time per call
    by_id = {q["queryid"]: q for q in slowest}
    for queryid, (text, calls, mean) in STATEMENTS.items():
        row = by_id[queryid]
        # 31 days of 5-minute steps, each adding `calls` calls of `mean` seconds
        assert row["calls"] == pytest.approx(31 * 288 * calls, rel=0.001)
        assert row["mean_seconds"] == pytest.approx(mean, rel=1e-6)
        assert row["statement"] == text
    assert "SELECT * FROM invoices WHERE customer = $1" in report["html"]
    assert "（非数据语句，不显示文本）" in report["html"]
    assert "`UPDATE accounts SET balance = balance - $1 WHERE id = $2`" in report["md"]
