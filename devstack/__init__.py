"""The development stack: throwaway PostgreSQL, Prometheus, Alertmanager, a webhook sink
and exporter processes on loopback, used by the tests, the demos and the benchmarks.

A checkout-only package (not part of the wheel): it runs the repository's own rules and
exporters from REPO_ROOT.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
