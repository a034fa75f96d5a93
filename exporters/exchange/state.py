"""The durable run store of one data-exchange job.

``aftercare-job run`` writes it, the exchange exporter reads it; either may
be down while the other works.  Layout under ``<state_dir>/exchange/<system>/<job>/``::

    summary.json      counters and the last runs (replaced atomically)
    running/*.json    one marker per run in progress (pid, start)
    lock              flock(2): writers exclusive, the exporter shared
    first-seen        when the exporter first watched the job (no success yet)

Every change is a read-modify-write of ``summary.json`` under the exclusive
lock, written to a temporary file, fsynced and renamed into place, so two
runs finishing at once are both counted and a crash never leaves half a
file.  A run that starts while another live marker exists is recorded as
concurrent.  A marker whose process is gone (killed, OOM, reboot) is a run
that never finished: the exporter counts it as a failure at once, and the
next run moves it into the summary as an interrupted failure.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..statefile import write_atomic

VERSION = 1
HISTORY = 20  # finished runs kept in summary.json for people reading it
LOCK_WAIT = 10.0  # seconds a writer waits for the lock before giving up


class StateError(Exception):
    """The store cannot be read or written; the message is safe to log."""


@dataclass
class Run:
    start: float
    end: float | None = None
    exit_code: int | None = None
    records: int | None = None
    concurrent: bool = False
    interrupted: bool = False

    @property
    def result(self) -> str:
        return "success" if self.exit_code == 0 else "failure"

    @property
    def duration(self) -> float | None:
        return None if self.end is None else max(0.0, self.end - self.start)

    def to_json(self) -> dict:
        return {
            "start": self.start,
            "end": self.end,
            "duration": self.duration,
            "exit_code": self.exit_code,
            "records": self.records,
            "result": self.result,
            "concurrent": self.concurrent,
            "interrupted": self.interrupted,
        }

    @classmethod
    def from_json(cls, raw) -> Run:
        if not isinstance(raw, dict) or not _number(raw.get("start")):
            raise ValueError("a run needs a numeric start")
        for key in ("end", "exit_code", "records"):
            if raw.get(key) is not None and not _number(raw[key]):
                raise ValueError(f"a run's {key} must be a number")
        return cls(
            start=float(raw["start"]),
            end=None if raw.get("end") is None else float(raw["end"]),
            exit_code=None if raw.get("exit_code") is None else int(raw["exit_code"]),
            records=None if raw.get("records") is None else int(raw["records"]),
            concurrent=bool(raw.get("concurrent")),
            interrupted=bool(raw.get("interrupted")),
        )


def _ended(run: Run) -> float:
    """When ``run`` ended; a run still going sorts first."""
    return run.end if run.end is not None else float("-inf")


@dataclass
class Summary:
    successes: int = 0
    failures: int = 0
    concurrent: int = 0
    interrupted: int = 0
    records: int = 0
    last_run: Run | None = None
    last_success: Run | None = None
    history: list[Run] = field(default_factory=list)

    def add(self, run: Run) -> None:
        if run.result == "success":
            self.successes += 1
        else:
            self.failures += 1
        self.concurrent += run.concurrent
        self.interrupted += run.interrupted
        self.records += run.records or 0
        if run.end is not None and (self.last_run is None or run.end >= _ended(self.last_run)):
            self.last_run = run
        if run.result == "success" and (
            self.last_success is None or _ended(run) >= _ended(self.last_success)
        ):
            self.last_success = run
        self.history = (self.history + [run])[-HISTORY:]

    def to_json(self) -> dict:
        return {
            "version": VERSION,
            "runs": {"success": self.successes, "failure": self.failures},
            "concurrent_runs": self.concurrent,
            "interrupted_runs": self.interrupted,
            "records": self.records,
            "last_run": self.last_run.to_json() if self.last_run else None,
            "last_success": self.last_success.to_json() if self.last_success else None,
            "history": [r.to_json() for r in self.history],
        }

    @classmethod
    def from_json(cls, raw) -> Summary:
        if not isinstance(raw, dict) or raw.get("version") != VERSION:
            raise ValueError(f"expected a mapping with version {VERSION}")
        runs = raw.get("runs")
        counts = [
            runs.get("success") if isinstance(runs, dict) else None,
            runs.get("failure") if isinstance(runs, dict) else None,
            raw.get("concurrent_runs", 0),
            raw.get("interrupted_runs", 0),
            raw.get("records", 0),
        ]
        if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
            raise ValueError("counters must be non-negative integers")
        history = raw.get("history") or []
        if not isinstance(history, list):
            raise ValueError("history must be a list")
        successes, failures, concurrent, interrupted, records = counts
        return cls(
            successes,
            failures,
            concurrent,
            interrupted,
            records,
            last_run=Run.from_json(raw["last_run"]) if raw.get("last_run") else None,
            last_success=Run.from_json(raw["last_success"]) if raw.get("last_success") else None,
            history=[Run.from_json(r) for r in history],
        )


@dataclass
class Marker:
    """A run in progress, as its ``running/*.json`` file says."""

    path: Path
    pid: int
    start: float
    host: str
    proc_start: str | None

    def alive(self) -> bool:
        if self.host != socket.gethostname():
            return True  # another host's run: cannot check, trust the marker
        return process_alive(self.pid, self.proc_start)


@dataclass
class Snapshot:
    """What the exporter reads: the summary plus the runs in progress or lost."""

    summary: Summary
    running: list[Marker]
    lost: list[Marker]  # markers of processes that died mid-run


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def process_start_ticks(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (guards against pid reuse); None off Linux."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode("ascii", "replace")
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def process_alive(pid: int, proc_start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if proc_start is not None:
        now = process_start_ticks(pid)
        return now is None or now == proc_start
    return True


def _os_reason(err: OSError) -> str:
    return err.strerror or errno.errorcode.get(err.errno or 0, "error")


class RunStore:
    def __init__(self, state_dir: str, system: str, job: str):
        self.dir = Path(state_dir) / "exchange" / system / job
        self.summary_path = self.dir / "summary.json"
        self.running_dir = self.dir / "running"
        self.lock_path = self.dir / "lock"
        self.first_seen_path = self.dir / "first-seen"

    # --- locking ---------------------------------------------------------------------

    @contextmanager
    def _locked(self, exclusive: bool, wait: float = LOCK_WAIT):
        if exclusive:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        else:
            try:
                fd = os.open(self.lock_path, os.O_RDONLY)
            except FileNotFoundError:
                yield  # no writer ever ran: nothing to guard
                return
        try:
            until = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= until:
                        raise StateError(
                            f"{self.lock_path}: still locked after {wait:g}s"
                        ) from None
                    time.sleep(0.01)
            yield
        finally:
            os.close(fd)

    # --- reading -------------------------------------------------------------------------

    def _summary(self) -> Summary:
        try:
            raw = self.summary_path.read_bytes()
        except FileNotFoundError:
            return Summary()
        try:
            return Summary.from_json(json.loads(raw))
        except (ValueError, TypeError, KeyError) as err:
            raise StateError(f"{self.summary_path}: corrupt run store ({err})") from None

    def _markers(self) -> list[Marker]:
        try:
            entries = sorted(self.running_dir.glob("*.json"))
        except OSError:
            return []
        markers = []
        for path in entries:
            try:
                raw = json.loads(path.read_bytes())
                markers.append(
                    Marker(
                        path,
                        int(raw["pid"]),
                        float(raw["start"]),
                        str(raw["host"]),
                        raw.get("proc_start"),
                    )
                )
            except FileNotFoundError:
                continue  # finished while we listed
            except (OSError, ValueError, TypeError, KeyError):
                # a marker torn by a crash: its run is lost; keep the file name's start
                markers.append(
                    Marker(
                        path,
                        -1,
                        path.stat().st_mtime if path.exists() else 0.0,
                        socket.gethostname(),
                        None,
                    )
                )
        return markers

    def read(self) -> Snapshot:
        """The current state for the exporter (shared lock, read-only)."""
        try:
            with self._locked(exclusive=False, wait=1.0):
                summary = self._summary()
                markers = self._markers()
        except OSError as err:
            raise StateError(f"{self.dir}: cannot read the run store ({_os_reason(err)})") from None
        running = [m for m in markers if m.pid > 0 and m.alive()]
        lost = [m for m in markers if m not in running]
        return Snapshot(summary, running, lost)

    # --- writing (aftercare-job) --------------------------------------------------------------

    def _load_or_recover(self, warn) -> Summary:
        try:
            return self._summary()
        except StateError as err:
            aside = self.summary_path.with_name(f"summary.json.corrupt-{int(time.time())}")
            os.replace(self.summary_path, aside)
            warn(f"{err}; set aside as {aside.name}, counting starts again")
            return Summary()

    def begin(self, pid: int, start: float, warn) -> tuple[Path, bool]:
        """Record a run starting; returns its marker and whether another run was live."""
        self.running_dir.mkdir(parents=True, exist_ok=True)
        with self._locked(exclusive=True):
            summary = self._load_or_recover(warn)
            markers = self._markers()
            live = [m for m in markers if m.pid > 0 and m.alive()]
            lost = [m for m in markers if m not in live]
            for m in lost:
                summary.add(Run(start=m.start, interrupted=True))
                m.path.unlink(missing_ok=True)
            if lost:
                write_atomic(self.summary_path, json.dumps(summary.to_json(), indent=1).encode())
            marker = self.running_dir / f"{int(start * 1e6)}-{pid}.json"
            write_atomic(
                marker,
                json.dumps(
                    {
                        "pid": pid,
                        "start": start,
                        "host": socket.gethostname(),
                        "proc_start": process_start_ticks(pid),
                        "concurrent": bool(live),
                    }
                ).encode(),
            )
        return marker, bool(live)

    def finish(self, marker: Path | None, run: Run, warn) -> None:
        """Record a finished run and drop its marker."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with self._locked(exclusive=True):
            summary = self._load_or_recover(warn)
            summary.add(run)
            write_atomic(self.summary_path, json.dumps(summary.to_json(), indent=1).encode())
            if marker is not None:
                marker.unlink(missing_ok=True)

    # --- the exporter's own note -----------------------------------------------------------------

    def first_seen(self, now: float) -> float:
        """When the exporter first watched this job; written once, best effort."""
        try:
            return float(self.first_seen_path.read_text().strip())
        except (OSError, ValueError):
            pass
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            write_atomic(self.first_seen_path, f"{now:.3f}\n".encode())
        except OSError:
            pass  # read-only state dir: the caller keeps it in memory
        return now
