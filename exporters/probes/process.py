"""Process: is it running (by command-line pattern or pidfile), how many, CPU and RSS.

Reads /proc directly (Linux): a process matches when its command line, its
arguments joined by spaces, contains a match of the pattern (as ``pgrep -f``).
"""

from __future__ import annotations

import os

from ..metrics import counter, gauge
from .core import ProbeContext, ProbeFailed

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

RUNNING = gauge("aftercare_process_running", "Number of running processes matching the check.")
CPU_SECONDS_TOTAL = counter(
    "aftercare_process_cpu_seconds_total",
    "User plus system CPU seconds used by the matching processes (sum; drops when one exits).",
)
RESIDENT_MEMORY_BYTES = gauge(
    "aftercare_process_resident_memory_bytes",
    "Resident memory of the matching processes, in bytes (sum).",
)


def probe_process(check, ctx: ProbeContext) -> None:
    pids = _from_pidfile(check.pidfile) if check.pidfile else _matching(check.pattern)
    cpu = rss = 0.0
    alive = 0
    for pid in pids:
        usage = _usage(pid)
        if usage is not None:
            alive += 1
            cpu += usage[0]
            rss += usage[1]
    ctx.emit(RUNNING, alive)
    ctx.emit(CPU_SECONDS_TOTAL, cpu)
    ctx.emit(RESIDENT_MEMORY_BYTES, rss)
    if not alive:
        raise ProbeFailed("process", "no matching process is running")


def _from_pidfile(path: str) -> list[int]:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            text = fh.read(64).strip()
    except OSError as err:
        raise ProbeFailed("process", f"cannot read the pidfile: {err.strerror}") from None
    if not text.isdigit():
        raise ProbeFailed("process", "the pidfile does not hold a process id")
    return [int(text)]


def _matching(pattern) -> list[int]:
    me = os.getpid()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if cmdline and pattern.search(
            cmdline.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")
        ):
            pids.append(int(entry))
    return pids


def _usage(pid: int) -> tuple[float, float] | None:
    """(CPU seconds, resident bytes) of ``pid``; None if it is not running."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
        with open(f"/proc/{pid}/statm", "rb") as fh:
            statm = fh.read().split()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2 :].split()  # after "pid (comm) "
    if fields[0] == b"Z":  # a zombie is not running
        return None
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLOCK_TICKS, int(statm[1]) * PAGE_SIZE
