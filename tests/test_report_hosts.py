"""The report's servers figures from a real node_exporter scraped by a real Prometheus,
each compared with the same figure computed here from the raw series."""

from __future__ import annotations

import os
import time

import pytest

from devstack.node_exporter import NodeExporter
from devstack.prometheus import Prometheus
from exporters.config import validate
from reportgen.analysis.hosts import analyse_hosts, quantile

STEP = 1.0


@pytest.fixture(scope="module")
def scraped():
    with NodeExporter() as node:
        job = {
            "job_name": "node",
            "static_configs": [
                {
                    "targets": [node.address],
                    "labels": {"system": "billing", "host": "app1", "role": "app"},
                }
            ],
        }
        with Prometheus(scrape_configs=[job], scrape_interval="1s") as prom:
            prom.wait_for_targets_up("node")
            start = time.time()
            time.sleep(12)
            yield prom, start, time.time() - 1


def config():
    return validate(
        {
            "systems": [
                {
                    "name": "billing",
                    "hosts": [
                        {"name": "app1", "address": "127.0.0.1:9100"},
                        {"name": "ghost", "address": "127.0.0.1:9", "role": "db"},
                    ],
                },
                {"name": "crm"},
            ]
        }
    ).systems


def raw(prom, expr, start, end) -> list[float]:
    [series] = prom.query_range(expr, start, end, step=STEP)
    return [float(v) for _, v in series["values"]]


def test_each_host_figure_equals_the_raw_series(scraped):
    prom, start, end = scraped
    report = analyse_hosts(prom.client, config(), start, end, step=STEP)
    app1, _ = report["billing"]
    assert report["crm"] == []  # a system without hosts: no rows
    sel = 'job="node",host="app1"'
    available = raw(prom, f"node_memory_MemAvailable_bytes{{{sel}}}", start, end)
    total = raw(prom, f"node_memory_MemTotal_bytes{{{sel}}}", start, end)
    assert app1["memory_used_p95"] == pytest.approx(
        quantile([1 - a / t for a, t in zip(available, total, strict=True)], 0.95), rel=1e-9
    )
    load = raw(prom, f"node_load5{{{sel}}}", start, end)
    assert app1["load_per_core_p95"] == pytest.approx(
        quantile([v / os.cpu_count() for v in load], 0.95), rel=1e-9
    )
    offsets = raw(prom, f"node_timex_offset_seconds{{{sel}}}", start, end)
    assert app1["clock_offset_max_seconds"] == pytest.approx(max(abs(v) for v in offsets))
    assert 0 <= app1["cpu_busy_p95"] <= app1["cpu_busy_max"] <= 1
    assert app1["reboots"] == 0 and app1["has_data"] is True
    [root] = [f for f in app1["filesystems"] if f["mountpoint"] == "/"]
    size = raw(prom, f'node_filesystem_size_bytes{{{sel},mountpoint="/"}}', end, end)[-1]
    avail = raw(prom, f'node_filesystem_avail_bytes{{{sel},mountpoint="/"}}', end, end)[-1]
    assert root["used_ratio_end"] == pytest.approx(1 - avail / size, rel=1e-9)
    st = os.statvfs("/")
    assert root["used_ratio_end"] == pytest.approx(1 - st.f_bavail / st.f_blocks, abs=0.01)
    assert all(f["mountpoint"] != "/dev/shm" for f in app1["filesystems"])  # tmpfs left out


def test_a_host_without_node_exporter_is_no_data_not_zero(scraped):
    prom, start, end = scraped
    _, ghost = analyse_hosts(prom.client, config(), start, end, step=STEP)["billing"]
    assert ghost["has_data"] is False
    for key in (
        "cpu_busy_p95",
        "cpu_busy_max",
        "memory_used_p95",
        "load_per_core_p95",
        "disk_busy_p95",
        "clock_offset_max_seconds",
        "reboots",
    ):
        assert ghost[key] is None, key
    assert ghost["filesystems"] == []
