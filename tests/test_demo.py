"""`make demo`'s script, shortened: a real fault is paged and resolved, and
everything it started is gone afterwards."""
from __future__ import annotations

import re
import socket
import subprocess
import sys

from tests.harness import REPO_ROOT


def test_demo_pages_the_fault_and_cleans_up():
    result = subprocess.run([sys.executable, "-m", "scripts.demo", "--fault-after", "3",
                             "--pending", "5s", "--exit-after-resolve"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=180)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "PAGE to /oncall [FIRING] AftercareDatabaseDown severity=critical system=demo database=demo-pg" in out
    assert "PAGE to /oncall [RESOLVED] AftercareDatabaseDown" in out
    assert "runbook: https://" in out
    assert out.index("FAULT: stopping") < out.index("[FIRING] AftercareDatabaseDown")
    ports = [int(p) for p in re.findall(r"http://127\.0\.0\.1:(\d+)", out)]
    assert len(ports) >= 4
    for port in ports:                      # every server the demo started is gone
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, port
