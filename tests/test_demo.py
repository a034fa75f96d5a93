"""`make demo`'s script, shortened: a real fault is paged through the Alertmanager pair and
resolved, the health report for the run is written (HTML, PDF, JSON), and everything it
started is gone afterwards."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

from devstack import REPO_ROOT


def test_demo_pages_the_fault_writes_the_report_and_cleans_up(tmp_path):
    out_dir = tmp_path / "demo-out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "scripts.demo",
            "--fault-after",
            "3",
            "--pending",
            "5s",
            "--exit-after-resolve",
            "--out",
            str(out_dir),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    # the pages went through aftercare-notify, printed by its console channel
    assert "NOTIFY oncall 【告警】AftercareDatabaseDown · demo" in out
    assert "级别: 严重 · 系统: demo · 对象: demo-pg" in out
    assert "NOTIFY oncall 【已恢复】AftercareDatabaseDown · demo" in out
    assert "[处置手册](https://" in out
    assert out.index("FAULT: stopping") < out.index("【告警】AftercareDatabaseDown")
    assert "demo backup (pg_dump): demo-" in out and "aftercare-job: exit 0" in out
    assert re.search(
        r"Alertmanager  http://127\.0\.0\.1:\d+ and http://127\.0\.0\.1:\d+ \(an HA pair\)", out
    )
    assert len(re.findall(r"exporter \w+ +http://127\.0\.0\.1:\d+/metrics", out)) == 5
    assert re.search(r"desk +http://127\.0\.0\.1:\d+  \(log in as engineer", out)
    assert re.search(r"desk incident #\d+ AftercareDatabaseDown system=demo \(open\)", out)

    # the report for the time it ran, in three formats, naming every area's targets
    reports = {p.suffix: p for p in out_dir.glob("aftercare-report-*")}
    assert sorted(reports) == [".docx", ".html", ".json", ".pdf"], out
    assert reports[".pdf"].read_bytes().startswith(b"%PDF")
    assert reports[".docx"].read_bytes().startswith(b"PK")  # a DOCX is a zip
    assert "<svg" in reports[".html"].read_text() or "<img" in reports[".html"].read_text()
    [system] = json.loads(reports[".json"].read_text())["systems"]
    assert system["name"] == "demo"
    assert [s["name"] for s in system["services"]] == ["demo-web", "demo-slow"]
    assert [d["name"] for d in system["databases"]] == ["demo-pg"]
    assert [b["name"] for b in system["backups"]] == ["demo-dump"]
    assert system["backups"][0]["successes"] >= 1
    assert [e["name"] for e in system["exchange"]] == ["demo-upload"]
    assert any(a["alertname"] == "AftercareDatabaseDown" for a in system["alerts"])
    assert system["databases"][0]["availability_ratio"] < 1.0  # the fault is in the report
    for path in reports.values():
        assert f"    report  {path}" in out

    ports = [int(p) for p in re.findall(r"http://127\.0\.0\.1:(\d+)", out)]
    ports += [int(p) for p in re.findall(r"postgresql://postgres@127\.0\.0\.1:(\d+)", out)]
    assert len(ports) >= 11
    for port in ports:  # every server the demo started is gone
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, port
    config = re.search(r"config +(\S+)", out).group(1)
    assert not Path(config).exists()  # and its temporary directory
