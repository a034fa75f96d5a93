"""Metric handles: every metric is declared once, as an object, and emitted through it.

The label count (and a histogram's part/le) is checked at emission, a bad
emission fails its collector at the scrape, and no emission site names a
metric by a string.
"""

from __future__ import annotations

import ast
import importlib
import re
import textwrap
import types
from pathlib import Path

import pytest

import exporters
from exporters.metrics import Metric, Sink, counter, gauge, histogram, metrics_in
from exporters.registry import EXPORTERS, areas_for
from exporters.runtime import Area, Scraper, Target, WorkerPool

PACKAGE = Path(exporters.__file__).parent

STATE = gauge("aftercare_handles_test_state", "A gauge with one label.", "state")
PLAIN = gauge("aftercare_handles_test_plain", "A gauge without labels.")
LATENCY = histogram("aftercare_handles_test_seconds", "A histogram with one label.", "phase")


# --- emission checks the labels --------------------------------------------------------


def test_emission_records_name_labels_and_value():
    sink = Sink()
    sink.add(STATE, 3, "active")
    sink.add(PLAIN, 1.5)
    sink.add(LATENCY, 2, "connect", "bucket", "0.5")
    sink.add(LATENCY, 0.7, "connect", "sum", "")
    assert sink.samples == [
        ("aftercare_handles_test_state", ("active",), 3.0),
        ("aftercare_handles_test_plain", (), 1.5),
        ("aftercare_handles_test_seconds", ("connect", "bucket", "0.5"), 2.0),
        ("aftercare_handles_test_seconds", ("connect", "sum", ""), 0.7),
    ]


@pytest.mark.parametrize(
    "metric, labels, message",
    [
        (STATE, (), "takes 1 label value(s)"),
        (STATE, ("a", "b"), "got 2"),
        (PLAIN, ("x",), "takes 0 label value(s)"),
        (LATENCY, ("connect",), "then part and le, got 1"),
        (LATENCY, ("connect", "bucket", ""), "le set for bucket only"),
        (LATENCY, ("connect", "sum", "1.0"), "le set for bucket only"),
        (LATENCY, ("connect", "total", ""), "part must be one of"),
    ],
)
def test_a_bad_label_emission_raises_at_once(metric, labels, message):
    sink = Sink()
    with pytest.raises(TypeError, match=re.escape(message)):
        sink.add(metric, 1, *labels)
    assert sink.samples == []


def test_a_metric_named_by_a_string_cannot_be_emitted():
    sink = Sink()
    with pytest.raises(TypeError, match="takes a declared Metric, not str"):
        sink.add("aftercare_handles_test_state", 1, "active")
    assert sink.samples == []


def test_a_counter_must_end_in_total():
    with pytest.raises(ValueError, match="must end in _total"):
        counter("aftercare_handles_test_events", "Events.")


def test_metrics_in_collects_module_level_handles_once_in_order():
    first, second = types.ModuleType("first"), types.ModuleType("second")
    first.A, first.B, first.OTHER = STATE, PLAIN, "not a metric"
    second.A, second.C = STATE, LATENCY  # imported from the first: counted once
    assert metrics_in(first, second) == (STATE, PLAIN, LATENCY)
    second.D = gauge(STATE.name, "The same name, another help.", "state")
    with pytest.raises(ValueError, match="declared twice"):
        metrics_in(first, second)


# --- at the scrape, a bad emission is its collector's failure ---------------------------


class TwoCollectors(Target):
    collectors = ("good", "bad")

    def __init__(self):
        super().__init__("sys", "t1", timeout=2.0)

    def collect(self, sink: Sink, timeout: float) -> None:
        with sink.collector("good"):
            sink.add(STATE, 4, "idle")
        with sink.collector("bad"):
            sink.add(PLAIN, 1)
            sink.add(STATE, 5)  # the label is missing: a programming error


class HandlesArea(Area):
    name = "handles"
    target_label = "thing"
    up_metric = "aftercare_handles_test_up"
    metrics = (STATE, PLAIN)

    def build_targets(self, config):
        return [TwoCollectors()]


def test_a_bad_emission_fails_its_collector_and_nothing_else():
    families = {f.name: f for f in Scraper([HandlesArea(None)], WorkerPool(size=2)).scrape(2.0)}
    success = {
        s.labels["collector"]: s.value
        for s in families["aftercare_scrape_collector_success"].samples
    }
    assert success == {"good": 1.0, "bad": 0.0}
    assert [s.value for s in families["aftercare_handles_test_up"].samples] == [1.0]
    assert [(s.labels, s.value) for s in families[STATE.name].samples] == [
        ({"system": "sys", "thing": "t1", "state": "idle"}, 4.0)
    ]
    assert PLAIN.name not in families  # the failed collector's samples are dropped


# --- no emission site names a metric by a string -----------------------------------------


def _emission_calls(tree: ast.AST):
    """Calls that emit a sample: ``sink.add(...)``, ``ctx.emit(...)`` (a prober's
    context) and ``run_probe(...)``'s duration metric; with their metric argument."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and node.args
            and (func.value.id, func.attr) in (("sink", "add"), ("ctx", "emit"))
        ):
            yield node, node.args[0]
        elif isinstance(func, ast.Name) and func.id == "run_probe" and len(node.args) >= 5:
            yield node, node.args[4]


def _names_a_string(arg: ast.expr) -> bool:
    return any(
        isinstance(n, ast.JoinedStr) or (isinstance(n, ast.Constant) and isinstance(n.value, str))
        for n in ast.walk(arg)
    )


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_emission_site_names_a_metric_by_a_string():
    declared = {
        id(m) for exporter in EXPORTERS for area in areas_for(exporter) for m in area.metrics
    }
    offenders, resolved, passed_on = [], 0, set()
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        calls = list(_emission_calls(tree))
        if not calls:
            continue
        module = importlib.import_module(_module_name(path))
        for call, arg in calls:
            where = f"{path.relative_to(PACKAGE.parent)}:{call.lineno}"
            if _names_a_string(arg):
                offenders.append(f"{where}: {ast.unparse(call)}")
            elif isinstance(arg, ast.Name) and isinstance(getattr(module, arg.id, None), Metric):
                resolved += 1
                if id(getattr(module, arg.id)) not in declared:
                    offenders.append(f"{where}: {arg.id} is declared by no area")
            else:
                passed_on.add(path.relative_to(PACKAGE).as_posix())
    assert offenders == []
    # about a hundred sites emit a module-level handle; only these two pass one on (the
    # duration metric of a probe, a log follower's metrics)
    assert resolved >= 100, resolved
    assert passed_on == {"logs/areas.py", "probes/__init__.py"}


def test_the_string_check_catches_a_literal():
    tree = ast.parse(
        textwrap.dedent("""
        def collect(sink, ctx, p):
            sink.add("aftercare_database_connections", 1, "idle")
            ctx.emit(f"{p}_files", 2)
            run_probe(kind, check, sink, 1.0, "aftercare_service_response_seconds")
            sink.add(CONNECTIONS, 1, "idle")
    """)
    )
    assert [_names_a_string(arg) for _, arg in _emission_calls(tree)] == [True, True, True, False]


def test_every_area_declares_each_metric_once():
    for exporter in EXPORTERS:
        for area in areas_for(exporter):
            names = [m.name for m in area.metrics]
            assert len(names) == len(set(names)), (area.name, names)
            assert all(isinstance(m, Metric) for m in area.metrics)
