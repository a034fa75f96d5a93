"""Scrape engine benchmark: a thread started per target per scrape (the
runtime before the worker pool, the anchor) vs the persistent worker pool.

    python bench/runtime_bench.py [--targets 200] [--scrapes 200]

Builds an exchange exporter config with ``--targets`` jobs (local run stores
in a temporary directory: the cheapest targets there are, so the engine's own
cost shows), then runs ``--scrapes`` scrapes in this process with each
strategy, alternating in rounds, and prints wall and CPU milliseconds per
scrape, threads started, and the resident memory each strategy leaves.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exporters.config import load_config  # noqa: E402
from exporters.registry import areas_for  # noqa: E402
from exporters.runtime import Scraper, WorkerPool  # noqa: E402


class ThreadPerJob:
    """The anchor: what the runtime did before, one new thread for every collection."""

    def __init__(self):
        self.started = 0

    def submit(self, job) -> None:
        self.started += 1
        threading.Thread(target=job, daemon=True).start()


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def build(targets: int, state_dir: str):
    path = Path(state_dir) / "aftercare.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "defaults": {"timeout": "2s", "state_dir": state_dir},
                "systems": [
                    {
                        "name": "bench",
                        "exchange": [
                            {"name": f"job{i}", "schedule": "0 2 * * *"} for i in range(targets)
                        ],
                    }
                ],
            }
        )
    )
    config = load_config(str(path))
    return [cls(config) for cls in areas_for("exchange")]


def measure(scraper: Scraper, scrapes: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(scrapes):
        families = scraper.scrape(5.0)
        up = next(f for f in families if f.name == "aftercare_scrape_collector_success")
        assert all(s.value == 1.0 for s in up.samples), "a collection failed"
    return (
        (time.perf_counter() - wall) / scrapes * 1000,
        (time.process_time() - cpu) / scrapes * 1000,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--scrapes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aftercare-runtime-bench-") as state_dir:
        strategies = {
            "thread per target (anchor)": ThreadPerJob(),
            "worker pool (ours)": WorkerPool(),
        }
        scrapers = {
            name: Scraper(build(args.targets, state_dir), pool) for name, pool in strategies.items()
        }
        for scraper in scrapers.values():
            measure(scraper, 5)  # warm up: files cached, imports done
        totals = {name: [0.0, 0.0] for name in scrapers}
        per_round = max(1, args.scrapes // args.rounds)
        for _ in range(args.rounds):
            for name, scraper in scrapers.items():
                wall, cpu = measure(scraper, per_round)
                totals[name][0] += wall / args.rounds
                totals[name][1] += cpu / args.rounds
        print(
            f"{args.targets} exchange targets, {per_round * args.rounds} scrapes per strategy, "
            f"{args.rounds} alternating rounds"
        )
        print(
            f"{'strategy':30} {'wall ms/scrape':>15} {'cpu ms/scrape':>14} {'threads started':>16}"
        )
        for name, (wall, cpu) in totals.items():
            print(f"{name:30} {wall:15.1f} {cpu:14.1f} {strategies[name].started:16d}")
        (aw, ac), (ow, oc) = totals.values()
        print(f"ratio anchor/ours: wall {aw / ow:.2f}x, cpu {ac / oc:.2f}x")
        pool = strategies["worker pool (ours)"]
        print(
            f"worker pool threads alive: {pool.threads}; process RSS now {rss_mib():.1f} MiB, "
            f"peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
