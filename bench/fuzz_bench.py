"""Fuzz run: every fuzz target of tests/test_fuzz.py with many generated cases.

    python bench/fuzz_bench.py [--examples 10000] [-k EXPR]

Runs tests/test_fuzz.py under pytest with AFTERCARE_FUZZ_EXAMPLES set (CI
uses a few hundred), then prints the number of cases each target generated,
the time it took and the outcome.  There is no anchor to compare with here:
the figure is the number of cases that gave a correct result or one clear
error (goal: at least 10,000 per target), and the failures, if any.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class CaseReport:
    """A pytest plugin collecting each fuzz test's outcome and duration."""

    def __init__(self):
        self.outcomes: dict[str, tuple[str, float]] = {}
        self.module = None  # the collected test module, for its case counts

    def pytest_collection_modifyitems(self, items):
        if items:
            self.module = items[0].module

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            outcome = "xfailed (known bug)" if hasattr(report, "wasxfail") else report.outcome
            self.outcomes[report.nodeid.split("::")[-1]] = (outcome, report.duration)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10000)
    parser.add_argument("-k", dest="expr", default=None, help="only the fuzz tests matching EXPR")
    args = parser.parse_args()
    os.environ["AFTERCARE_FUZZ_EXAMPLES"] = str(args.examples)
    sys.path.insert(0, str(ROOT))
    import pytest

    plugin = CaseReport()
    argv = [
        str(ROOT / "tests" / "test_fuzz.py"),
        "-q",
        "-p",
        "no:cacheprovider",
        "--timeout",
        "3600",
    ]
    if args.expr:
        argv += ["-k", args.expr]
    start = time.monotonic()
    code = pytest.main(argv, plugins=[plugin])
    cases = plugin.module.CASES if plugin.module is not None else {}
    print(f"\nfuzz run: up to {args.examples} examples per target, {time.monotonic() - start:.0f}s")
    print(f"{'target':52} {'cases':>7} {'seconds':>8}  outcome")
    by_test = {
        "test_config_loader_mutated_valid_config": "config: mutated valid file",
        "test_config_loader_random_structures": "config: random YAML structure",
        "test_config_loader_random_bytes": "config: random bytes",
        "test_log_follower_survives_anything_and_never_double_counts": "logs: follower operations",
        "test_access_parser_counts_every_line_once": "access log: chunks",
        "test_run_store_reads_garbage_as_a_clear_error": "exchange: run store files",
        "test_prometheus_client_error_pages_and_cut_answers_are_prom_errors": (
            "report: Prometheus error pages, cut answers"
        ),
        "test_prometheus_client_success_answers_of_the_wrong_shape_are_prom_errors": (
            "report: Prometheus answers of the wrong shape"
        ),
    }
    for test, label in by_test.items():
        if test in plugin.outcomes:
            outcome, seconds = plugin.outcomes[test]
            print(f"{label:52} {cases[label]:7d} {seconds:8.1f}  {outcome}")
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
