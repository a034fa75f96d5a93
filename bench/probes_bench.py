"""Benchmark: 1,000 checks in one scrape, aftercare services exporter vs
prometheus-blackbox-exporter.

800 HTTP checks of a local server, 150 TCP connects, 50 HTTP checks of a
black hole (accepts, never answers), 2 s timeout.  The aftercare exporter
runs them all in one scrape; blackbox_exporter probes the same 1,000
targets through /probe, 64 at a time (as a Prometheus with many jobs would).
Reported per round: wall seconds, the exporter process's CPU seconds, its
resident memory after the round and its peak (VmHWM).

    python bench/probes_bench.py [--rounds 3] [--blackbox prometheus-blackbox-exporter]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HTTP_CHECKS, TCP_CHECKS, BLACK_HOLES, TIMEOUT = 800, 150, 50, 2.0
BLACKBOX_CONCURRENCY = 64
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from devstack.ports import free_port  # noqa: E402

# --- the servers probed: a small HTTP server and a black hole, in a child process ---


def serve(http_port: int, hole_port: int) -> None:
    held = []

    async def answer(reader, writer):
        try:
            request = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            request = b""
        if request:
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
                b"Connection: close\r\n\r\nok\n"
            )
            try:
                await writer.drain()
            except ConnectionError:
                pass
        writer.close()

    async def swallow(reader, writer):
        held.append(writer)  # accept, never answer

    async def main():
        a = await asyncio.start_server(answer, "127.0.0.1", http_port, backlog=4096)
        b = await asyncio.start_server(swallow, "127.0.0.1", hole_port, backlog=4096)
        print("ready", flush=True)
        async with a, b:
            await asyncio.gather(a.serve_forever(), b.serve_forever())

    asyncio.run(main())


# --- measuring a process ---------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MB."""
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024
    return out["VmRSS"], out["VmHWM"]


def wait_http(url: str, deadline: float = 20.0) -> None:
    end = time.monotonic() + deadline
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


def targets(http_port: int, hole_port: int) -> list[tuple[str, str]]:
    """(kind, target) x 1000: kind is http or tcp."""
    out = [("http", f"http://127.0.0.1:{http_port}/check/{i}") for i in range(HTTP_CHECKS)]
    out += [("tcp", f"127.0.0.1:{http_port}") for _ in range(TCP_CHECKS)]
    out += [("http", f"http://127.0.0.1:{hole_port}/hole/{i}") for i in range(BLACK_HOLES)]
    return out


# --- aftercare -----------------------------------------------------------------------


def run_aftercare(work: Path, checks, rounds: int) -> list[dict]:
    services = []
    for i, (kind, target) in enumerate(checks):
        if kind == "http":
            services.append({"name": f"s{i}", "http": {"url": target}})
        else:
            services.append({"name": f"s{i}", "tcp": {"address": target}})
    config = {
        "defaults": {"timeout": f"{int(TIMEOUT)}s", "state_dir": str(work / "state")},
        "systems": [{"name": "bench", "services": services}],
    }
    (work / "aftercare.yml").write_text(json.dumps(config))  # JSON is YAML
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exporters.cli",
            "services",
            "--config.file",
            str(work / "aftercare.yml"),
            "--web.listen-address",
            f"127.0.0.1:{port}",
            "--log.level",
            "error",
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/")
        print(f"aftercare exporter before its first scrape: {memory(proc.pid)[0]:.1f} MB resident")
        results = []
        for _ in range(rounds):
            cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
            body = (
                urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30)
                .read()
                .decode()
            )
            wall = time.monotonic() - t0
            cpu = cpu_seconds(proc.pid) - cpu0
            rss, hwm = memory(proc.pid)
            up = sum(
                1
                for line in body.splitlines()
                if line.startswith("aftercare_service_up{") and line.endswith(" 1.0")
            )
            results.append(dict(wall=wall, cpu=cpu, rss=rss, hwm=hwm, ok=up))
            time.sleep(TIMEOUT + 0.5)  # let black-hole probes of this round end
        return results
    finally:
        proc.terminate()
        proc.wait(10)


# --- blackbox_exporter -----------------------------------------------------------------

BLACKBOX_CONFIG = f"""modules:
  http_2xx:
    prober: http
    timeout: {int(TIMEOUT)}s
    http: {{preferred_ip_protocol: ip4}}
  tcp_connect:
    prober: tcp
    timeout: {int(TIMEOUT)}s
    tcp: {{preferred_ip_protocol: ip4}}
"""


def run_blackbox(binary: str, work: Path, checks, rounds: int) -> list[dict]:
    (work / "blackbox.yml").write_text(BLACKBOX_CONFIG)
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={work / 'blackbox.yml'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def probe(check):
        kind, target = check
        module = "http_2xx" if kind == "http" else "tcp_connect"
        url = f"http://127.0.0.1:{port}/probe?module={module}&target={target}"
        body = urllib.request.urlopen(url, timeout=30).read().decode()
        return "probe_success 1" in body

    try:
        wait_http(f"http://127.0.0.1:{port}/")
        results = []
        with concurrent.futures.ThreadPoolExecutor(BLACKBOX_CONCURRENCY) as pool:
            for _ in range(rounds):
                cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
                ok = sum(pool.map(probe, checks))
                wall = time.monotonic() - t0
                cpu = cpu_seconds(proc.pid) - cpu0
                rss, hwm = memory(proc.pid)
                results.append(dict(wall=wall, cpu=cpu, rss=rss, hwm=hwm, ok=ok))
                time.sleep(0.5)
        return results
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--blackbox", default="prometheus-blackbox-exporter")
    parser.add_argument("--serve", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve)
        return 0
    binary = shutil.which(args.blackbox)
    if not binary:
        print(
            f"{args.blackbox} not found (apt-get install prometheus-blackbox-exporter)",
            file=sys.stderr,
        )
        return 1
    http_port, hole_port = free_port(), free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(http_port), str(hole_port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout.readline().strip() == "ready"
        checks = targets(http_port, hole_port)
        with tempfile.TemporaryDirectory() as tmp:
            ours = run_aftercare(Path(tmp), checks, args.rounds)
            theirs = run_blackbox(binary, Path(tmp), checks, args.rounds)
    finally:
        server.terminate()
        server.wait(10)
    expected = HTTP_CHECKS + TCP_CHECKS
    print(
        f"{len(checks)} checks ({HTTP_CHECKS} HTTP, {TCP_CHECKS} TCP, {BLACK_HOLES} black holes), "
        f"timeout {TIMEOUT:g} s; blackbox {BLACKBOX_CONCURRENCY} at a time; expected up: {expected}"
    )
    print(
        f"{'round':>5} {'who':>9} {'wall s':>7} {'cpu s':>6} {'rss MB':>7} {'peak MB':>8} {'up':>5}"
    )
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True), 1):
        for who, r in (("aftercare", a), ("blackbox", b)):
            print(
                f"{i:>5} {who:>9} {r['wall']:7.2f} {r['cpu']:6.2f} {r['rss']:7.1f} "
                f"{r['hwm']:8.1f} {r['ok']:>5}"
            )
    best = lambda rs, k: min(r[k] for r in rs)  # noqa: E731
    print(
        f"best wall: aftercare {best(ours, 'wall'):.2f} s, blackbox {best(theirs, 'wall'):.2f} s, "
        f"ratio {best(ours, 'wall') / best(theirs, 'wall'):.2f} (goal <= 1.0; "
        f"and <= {TIMEOUT + 0.5:g} s)"
    )
    print(
        f"median cpu: aftercare {sorted(r['cpu'] for r in ours)[len(ours) // 2]:.2f} s, "
        f"blackbox {sorted(r['cpu'] for r in theirs)[len(theirs) // 2]:.2f} s; "
        f"peak rss: aftercare {max(r['hwm'] for r in ours):.1f} MB, "
        f"blackbox {max(r['hwm'] for r in theirs):.1f} MB (goal <= 60 MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
