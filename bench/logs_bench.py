"""Log counting benchmark: lines by level over a generated 1 GiB log, ours vs mtail.

    python bench/logs_bench.py [--size-mib 1024] [--keep] [--workers 2] [--encoding gbk]

Generates the log in a temporary directory (about 7.5 M lines of ~143 bytes,
four levels), counts it with exporters.logs.counting's LevelCounter (one
process, and the file split at line starts over ``--workers`` processes), with
a naive per-line loop of compiled regexes, and with Debian's mtail
(``--one_shot``, an equivalent program), then prints wall times, lines per
second and whether every count agrees.  The file is deleted
at the end unless --keep.

``--encoding gbk`` (or another ASCII-compatible encoding) writes the same lines
with Chinese level words (错误, 警告, 信息, 调试) twice, in that encoding and in
UTF-8, and times the exporter's own path on both: a ``Follower`` reading the
whole file (decoding it, for the non-UTF-8 one) and ``count_file`` in one
process; counts are checked against a naive per-line decode-and-search loop.
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exporters.logs.counting import LevelCounter  # noqa: E402
from exporters.logs.encoding import Transcoded  # noqa: E402
from exporters.logs.tail import Follower  # noqa: E402

LEVELS = {"error": "ERROR", "warning": "WARN", "info": "INFO", "debug": "DEBUG"}
CHINESE = {"error": "错误", "warning": "警告", "info": "信息", "debug": "调试"}
MTAIL_PROGRAM = "counter log_lines_total by level\n" + "".join(
    f'/{pattern}/ {{\n  log_lines_total["{level}"]++\n}}\n' for level, pattern in LEVELS.items()
)


# --- whole files: optionally over several processes ----------------------------------

FILE_CHUNK_BYTES = 16 << 20


def _count_range(task: tuple) -> Counter:
    """Count the complete lines of ``path`` in [start, end); ``start`` is a line start."""
    path, start, end, counter = task
    out = Counter()
    with open(path, "rb", buffering=0) as fh:
        pos = start
        while pos < end:
            data = os.pread(fh.fileno(), min(FILE_CHUNK_BYTES, end - pos), pos)
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                break  # a partial last line (or a line > 16 MiB)
            out.update(counter(data[:cut] if cut < len(data) else data))
            pos += cut
    return out


def _line_starts(path: str, size: int, parts: int) -> list[int]:
    """``parts`` + 1 offsets, each at a line start (or the end)."""
    bounds = [0]
    with open(path, "rb", buffering=0) as fh:
        for i in range(1, parts):
            at = max(bounds[-1], size * i // parts)
            tail = os.pread(fh.fileno(), 1 << 16, at - 1) if at > 0 else b"\n"
            nl = tail.find(b"\n")
            bounds.append(size if nl < 0 else min(size, at + nl))
    return bounds + [size]


def count_file(path: str, counter, workers: int = 1) -> Counter:
    """Counts of every complete line of ``path``; ``workers`` > 1 splits the file
    at line starts over that many processes (worth it from tens of MiB)."""
    size = os.path.getsize(path)
    parts = 1 if workers <= 1 else workers * 4
    bounds = _line_starts(path, size, parts)
    tasks = [(path, a, b, counter) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]
    total = Counter()
    if workers <= 1:
        for task in tasks:
            total.update(_count_range(task))
        return total
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for part in pool.imap_unordered(_count_range, tasks):
            total.update(part)
    return total


def generate(
    path: Path, size: int, seed: int = 4, words: dict = LEVELS, encoding: str = "utf-8"
) -> int:
    """Write ~``size`` bytes of app-server-like lines; returns the number of lines."""
    rnd = random.Random(seed)
    levels = (
        [words["info"]] * 70 + [words["debug"]] * 20 + [words["warning"]] * 7 + [words["error"]] * 3
    )
    messages = [
        "request handled GET /api/v1/orders/{n} status=200 took={m}ms user=u{n}",
        "cache miss key=session:{n} ttl={m}s backend=redis shard={m}",
        "pool size=50 idle={m} waiting=0 acquired={n} datasource=billing",
        "payment gateway call order={n} attempt={m} latency_ms={m}",
        "job tax-upload finished records={n} rejected={m} ok=true",
    ]
    block = []
    for i in range(200_000):
        msg = rnd.choice(messages).format(n=rnd.randint(1, 10**7), m=rnd.randint(0, 999))
        block.append(
            f"2026-11-26T08:{i // 3600 % 60:02d}:{i // 60 % 60:02d}.{i % 1000:03d}Z "
            f"[{rnd.choice(levels)}] [worker-{i % 32:03d}] com.example.billing.Service - {msg}\n"
        )
    data = "".join(block).encode(encoding)
    lines = 0
    with open(path, "wb") as fh:
        written = 0
        while written < size:
            part = (
                data[: data.rfind(b"\n", 0, size - written) + 1]
                if size - written < len(data)
                else data
            )
            if not part:
                break
            fh.write(part)
            written += len(part)
            lines += part.count(b"\n")
    return lines


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def timed_cpu(fn):
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def naive(path: Path, words: dict = LEVELS, encoding: str | None = None) -> dict:
    """Per-line search; with ``encoding``, of each line decoded (a reference for the counts)."""
    if encoding:
        regexes = {k: re.compile(v) for k, v in words.items()}
    else:
        regexes = {k: re.compile(v.encode()) for k, v in words.items()}
    counts = dict.fromkeys(words, 0)
    with open(path, "rb") as fh:
        for line in fh:
            if encoding:
                line = line.decode(encoding)
            for name, rx in regexes.items():
                if rx.search(line):
                    counts[name] += 1
    return counts


def follow(path: Path, encoding: str, workdir: Path) -> dict:
    """The exporter's path: a Follower reading the whole file once (it appears after the
    first poll, so it is read from its start), counting with a LevelCounter."""
    state = workdir / f"state-{encoding}.json"
    state.unlink(missing_ok=True)
    follower = Follower(
        str(workdir / "followed.log"), str(state), max_bytes=1 << 40, encoding=encoding
    )
    counter = LevelCounter(CHINESE, "log_lines_total")
    follower.poll(counter)
    path.rename(workdir / "followed.log")
    try:
        follower.poll(counter)
    finally:
        (workdir / "followed.log").rename(path)
        follower.close()
    return {k[1]: v for k, v in follower.totals.items()}


def compare_encoding(args, workdir: Path) -> int:
    """The same log in ``args.encoding`` and in UTF-8, counted the exporter's way."""
    paths = {enc: workdir / f"app.{enc}.log" for enc in (args.encoding, "utf-8")}
    gen, lines = timed(
        lambda: generate(
            paths[args.encoding], args.size_mib << 20, words=CHINESE, encoding=args.encoding
        )
    )
    with (
        open(paths[args.encoding], encoding=args.encoding, newline="") as src,
        open(paths["utf-8"], "w", encoding="utf-8", newline="") as dst,
    ):
        shutil.copyfileobj(src, dst, 1 << 20)  # the same lines, in UTF-8
    for enc, path in paths.items():
        print(f"{enc}: {path.stat().st_size / 2**20:.0f} MiB, {lines:,} lines")
    results = {}

    def keep_best(name, path, cpu, counts):
        if name not in results or cpu < results[name][1][0]:
            results[name] = (path, (cpu, counts))

    for path in paths.values():
        subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)
    for _ in range(args.repeat):  # interleaved, so that both see the same load
        for enc, path in paths.items():
            keep_best(
                f"Follower.poll, {enc}",
                path,
                *timed_cpu(functools.partial(follow, path, enc, workdir)),
            )
            counter = LevelCounter(CHINESE, "log_lines_total")
            if enc != "utf-8":
                counter = Transcoded(counter, enc)
            cpu, counts = timed_cpu(functools.partial(count_file, str(path), counter))
            keep_best(
                f"count_file, 1 process, {enc}", path, cpu, {k[1]: v for k, v in counts.items()}
            )
    print(
        f"CPU time of this process (less disturbed by other load than wall time), "
        f"best of {args.repeat} runs each"
    )
    reference = None if args.skip_naive else naive(paths[args.encoding], CHINESE, args.encoding)
    print(f"{'counter':40s} {'cpu s':>7s} {'MiB/s':>8s}  counts")
    bad = False
    for name, (path, (wall, counts)) in results.items():
        same = "" if reference is None else ("= naive" if counts == reference else "DIFFERENT")
        bad |= same == "DIFFERENT"
        print(f"{name:40s} {wall:7.2f} {path.stat().st_size / 2**20 / wall:8.1f}  {counts} {same}")
    for what in ("Follower.poll", "count_file, 1 process"):
        ratio = results[f"{what}, {args.encoding}"][1][0] / results[f"{what}, utf-8"][1][0]
        print(f"{what}: {args.encoding} takes {ratio:.2f}x the CPU time of utf-8")
    return 1 if bad else 0


def mtail(path: Path, workdir: Path) -> tuple[dict, float, int]:
    progs = workdir / "progs"
    progs.mkdir()
    (progs / "levels.mtail").write_text(MTAIL_PROGRAM)
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [
            "mtail",
            "--progs",
            str(progs),
            "--logs",
            str(path),
            "--one_shot",
            "--one_shot_format",
            "json",
            "--logtostderr",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    counts = {}
    for metric in json.loads(out.stdout)["log_lines_total"]:
        for label in metric["LabelValues"]:
            counts[label["Labels"][0]] = label["Value"]["Value"]
    return counts, wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="with --encoding: runs of each counter, the fastest is shown",
    )
    parser.add_argument(
        "--encoding", default="utf-8", help="also count the log written in this encoding (e.g. gbk)"
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="aftercare-logs-bench-"))
    path = workdir / "app.log"
    try:
        if args.encoding.replace("_", "-").lower() not in ("utf-8", "utf8"):
            return compare_encoding(args, workdir)
        gen, lines = timed(lambda: generate(path, args.size_mib << 20))
        size = path.stat().st_size
        print(f"generated {size / 2**30:.2f} GiB, {lines:,} lines in {gen:.1f} s: {path}")
        # warm the page cache
        subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)
        counter = LevelCounter(LEVELS, "log_lines_total")
        results = {}
        for workers in sorted({1, args.workers}):
            wall, counts = timed(partial(count_file, str(path), counter, workers=workers))
            results[f"aftercare counting.py, {workers} process(es)"] = (
                wall,
                {k[1]: v for k, v in counts.items()},
            )
        if not args.skip_naive:
            results["naive per-line Python loop"] = timed(lambda: naive(path))
        if shutil.which("mtail"):
            counts, wall, cpu = mtail(path, workdir)
            results[f"mtail --one_shot (cpu {cpu:.1f} s)"] = (wall, counts)
        else:
            print("mtail not installed (apt-get install mtail): no comparison")
        reference = results.get(next((k for k in results if k.startswith("mtail")), ""), (0, None))[
            1
        ]
        anchor = next((w for k, (w, _) in results.items() if k.startswith("mtail")), None)
        print(f"{'counter':45s} {'wall s':>7s} {'lines/s':>12s} {'vs mtail':>8s}  counts")
        for name, (wall, counts) in results.items():
            same = "" if reference is None else ("= mtail" if counts == reference else "DIFFERENT")
            ratio = f"{anchor / wall:7.1f}x" if anchor else "      -"
            print(f"{name:45s} {wall:7.2f} {lines / wall:12,.0f} {ratio}  {counts} {same}")
        bad = reference is not None and any(c != reference for _, c in results.values())
        return 1 if bad else 0
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
