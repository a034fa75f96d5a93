"""The process prober against real processes started here (Linux /proc)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid

import pytest

from exporters.config import validate
from exporters.metrics import Sink
from exporters.probes import run_probe
from exporters.services import RESPONSE_SECONDS


def probe(spec: dict) -> tuple[Sink, dict]:
    config = validate({"systems": [{"name": "t", "services": [{"name": "p", "process": spec}]}]})
    sink = Sink()
    run_probe("process", config.systems[0].services[0].process, sink, 2.0, RESPONSE_SECONDS)
    return sink, {(name,) + labels: value for name, labels, value in sink.samples}


@pytest.fixture
def workers():
    """Two processes whose command line carries a unique marker; one burns some CPU first."""
    marker = f"aftercare-worker-{uuid.uuid4().hex[:8]}"
    code = (
        "import sys,time\nx=0\nfor i in range(3_000_000): x+=i\n"
        "print('r',flush=True)\ntime.sleep(60)"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, marker], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for p in procs:
        assert p.stdout.readline().strip() == "r"
    yield marker, procs
    for p in procs:
        p.kill()
        p.wait()


def test_pattern_counts_cpu_and_rss(workers):
    marker, procs = workers
    sink, v = probe({"pattern": re.escape(marker)})
    assert sink.up is True
    assert v[("aftercare_process_running",)] == 2
    assert v[("aftercare_process_cpu_seconds_total",)] > 0.05
    expected_rss = 0
    for p in procs:
        with open(f"/proc/{p.pid}/statm") as fh:
            expected_rss += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    assert abs(v[("aftercare_process_resident_memory_bytes",)] - expected_rss) < 1024 * 1024


def test_no_match_is_process():
    sink, v = probe({"pattern": f"no-such-process-{uuid.uuid4().hex}"})
    assert (sink.up, sink.reason) == (False, "process")
    assert v[("aftercare_process_running",)] == 0


def test_pidfile(workers, tmp_path):
    _, procs = workers
    pidfile = tmp_path / "worker.pid"
    pidfile.write_text(f"{procs[0].pid}\n")
    sink, v = probe({"pidfile": str(pidfile)})
    assert sink.up is True and v[("aftercare_process_running",)] == 1


def test_pidfile_of_dead_process_is_process(tmp_path):
    p = subprocess.Popen(["true"])
    p.wait()
    pidfile = tmp_path / "gone.pid"
    pidfile.write_text(str(p.pid))
    sink, _ = probe({"pidfile": str(pidfile)})
    assert (sink.up, sink.reason) == (False, "process")


@pytest.mark.parametrize("content", [None, "", "not-a-pid"])
def test_missing_or_garbage_pidfile_is_process(tmp_path, content):
    pidfile = tmp_path / "x.pid"
    if content is not None:
        pidfile.write_text(content)
    sink, _ = probe({"pidfile": str(pidfile)})
    assert (sink.up, sink.reason) == (False, "process")
