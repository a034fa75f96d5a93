"""Run one data-exchange job and record the run.

The job's stdin and stderr are its own; its stdout passes through a pipe
unchanged, chunk by chunk, so that a line ``AFTERCARE_RECORDS=<n>`` can be
read on the way.  Recording never stands between the job and its work: if
the run store cannot be written the job still runs, a warning goes to
stderr, and the job's exit code is returned either way.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

from .state import Run, RunStore, StateError

RECORDS_LINE = re.compile(rb"^AFTERCARE_RECORDS=(\d+)\s*$")
MAX_LINE = 4096  # longer stdout lines are passed on, not scanned
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


def warn(message: str) -> None:
    print(f"aftercare-job: warning: {message}", file=sys.stderr, flush=True)


class RecordsScanner:
    """Finds the last ``AFTERCARE_RECORDS=<n>`` line in a byte stream."""

    def __init__(self):
        self.pending = b""
        self.records: int | None = None

    def feed(self, chunk: bytes) -> None:
        lines = (self.pending + chunk).split(b"\n")
        self.pending = lines.pop()
        if len(self.pending) > MAX_LINE:
            self.pending = b"\0"  # poison: this long line is not a records line
        for line in lines:
            self._line(line)

    def close(self) -> None:
        self._line(self.pending)
        self.pending = b""

    def _line(self, line: bytes) -> None:
        m = RECORDS_LINE.match(line.rstrip(b"\r"))
        if m:
            self.records = int(m.group(1))


def read_records_file(path: str, started: float) -> int | None:
    """The count a job wrote to its --records-file during this run (else None)."""
    try:
        if os.stat(path).st_mtime < started - 1.0:
            warn(f"records file {path} was not written by this run; records not counted")
            return None
        with open(path, encoding="utf-8") as fh:
            text = fh.read().strip()
    except OSError as err:
        warn(f"cannot read the records file {path}: {err.strerror}")
        return None
    if not text.isdigit():
        warn(f"records file {path} does not hold a non-negative integer")
        return None
    return int(text)


def _pump(stream, scanner: RecordsScanner) -> None:
    """Copy the job's stdout to ours as it comes, scanning it."""
    out = sys.stdout.buffer
    fd = stream.fileno()
    while True:
        try:
            chunk = os.read(fd, 65536)
        except InterruptedError:
            continue
        if not chunk:
            break
        try:
            out.write(chunk)
            out.flush()
        except (BrokenPipeError, OSError):
            pass  # our stdout went away: keep draining the job's
        scanner.feed(chunk)
    scanner.close()


def exit_code(returncode: int) -> int:
    """A child killed by signal N exits as a shell reports it: 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def run_job(store: RunStore | None, command: list[str], records_file: str | None = None) -> int:
    """Run ``command``, record it in ``store`` (if any), return its exit code."""
    started = time.time()
    marker, concurrent = None, False
    if store is not None:
        try:
            marker, concurrent = store.begin(os.getpid(), started, warn)
        except (OSError, StateError) as err:
            warn(
                f"cannot record the start of this run in {store.dir}: "
                f"{getattr(err, 'strerror', None) or err}; the job runs unrecorded"
            )
            store = None

    scanner = RecordsScanner()
    try:
        child = subprocess.Popen(command, stdout=subprocess.PIPE)
    except OSError as err:
        # as a shell would: 127 not found, 126 found but not runnable
        code = 127 if isinstance(err, FileNotFoundError) else 126
        print(
            f"aftercare-job: cannot run {command[0]}: {err.strerror}", file=sys.stderr, flush=True
        )
        _finish(store, marker, Run(started, time.time(), code, None, concurrent))
        return code

    previous = {}

    def forward(signum, frame):
        try:
            child.send_signal(signum)
        except OSError:
            pass

    for sig in FORWARDED:
        previous[sig] = signal.signal(sig, forward)
    try:
        _pump(child.stdout, scanner)
        while True:
            try:
                returncode = child.wait()
                break
            except InterruptedError:
                continue
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    code = exit_code(returncode)
    records = read_records_file(records_file, started) if records_file else scanner.records
    _finish(store, marker, Run(started, time.time(), code, records, concurrent))
    return code


def _finish(store: RunStore | None, marker, run: Run) -> None:
    if store is None:
        return
    try:
        store.finish(marker, run, warn)
    except (OSError, StateError) as err:
        warn(
            f"cannot record the end of this run in {store.dir}: "
            f"{getattr(err, 'strerror', None) or err}"
        )
