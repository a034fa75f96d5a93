"""A pgBackRest stanza: ``pgbackrest --stanza=S --output=json info`` read at scrape time.

The JSON is a list of stanzas; each has ``status`` ({code, message, lock})
and ``backup``: a list of backups with ``type`` (full, diff, incr),
``timestamp`` {start, stop} (Unix seconds), ``info`` {size, delta,
repository {size, delta}} in bytes, and ``error`` (true when pages failed
their checksums).  A backup with ``error`` true is not a success.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from dataclasses import dataclass, field

from ..config import Backup, System
from ..metrics import CollectorRun, Sink, gauge
from ..runtime import Target
from ..schedule import deadline
from .cache import BackupState
from .fileset import LocationError
from .series import (
    DEADLINE_TIMESTAMP_SECONDS,
    KEPT,
    LAST_SUCCESS_TIMESTAMP_SECONDS,
    MIN_SIZE_BYTES,
    NEWEST_TIMESTAMP_SECONDS,
    SIZE_BYTES,
    SIZE_CHANGE_RATIO,
)

TYPES = ("full", "diff", "incr")

RUNNING = gauge(
    "aftercare_backup_running",
    "1 while pgBackRest holds the stanza's backup lock (a backup is running).",
)
PGBACKREST_STATUS_CODE = gauge(
    "aftercare_backup_pgbackrest_status_code",
    "pgBackRest stanza status code: 0 ok, 1 missing stanza path, 2 no valid backups, "
    "3 missing stanza data, 4 different across repos, 5 database mismatch, 99 other.",
)
TYPE_LAST_SUCCESS_TIMESTAMP_SECONDS = gauge(
    "aftercare_backup_type_last_success_timestamp_seconds",
    "Unix time the newest pgBackRest backup of each type (full, diff, incr) stopped.",
    "type",
)


@dataclass
class BackupSet:
    label: str
    type: str
    stop: float
    repo_size: int  # bytes this backup added to the repository
    error: bool


@dataclass
class StanzaInfo:
    name: str
    status_code: int
    status_message: str
    backup_running: bool
    backups: list[BackupSet] = field(default_factory=list)


def _int(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LocationError("invalid_output", f"pgbackrest info: {where} is not a number")
    return int(value)


def parse_info(text: str | bytes, stanza: str) -> StanzaInfo:
    """The named stanza from ``pgbackrest info --output=json``; LocationError if unusable."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise LocationError("invalid_output", "pgbackrest info did not print valid JSON") from None
    if not isinstance(doc, list):
        raise LocationError("invalid_output", "pgbackrest info JSON is not a list of stanzas")
    entry = next((s for s in doc if isinstance(s, dict) and s.get("name") == stanza), None)
    if entry is None:
        raise LocationError("invalid_output", f"pgbackrest info has no stanza {stanza!r}")
    try:
        status = entry.get("status") or {}
        lock = (status.get("lock") or {}).get("backup") or {}
        info = StanzaInfo(
            stanza,
            _int(status.get("code"), "status.code"),
            str(status.get("message", "")),
            bool(lock.get("held")),
        )
        for i, b in enumerate(entry.get("backup") or []):
            repo = (b.get("info") or {}).get("repository") or {}
            info.backups.append(
                BackupSet(
                    label=str(b.get("label", "")),
                    type=str(b.get("type", "")),
                    stop=float(
                        _int((b.get("timestamp") or {}).get("stop"), f"backup[{i}].timestamp.stop")
                    ),
                    repo_size=_int(
                        repo.get("delta", repo.get("size")), f"backup[{i}].info.repository.delta"
                    ),
                    error=bool(b.get("error", False)),
                )
            )
    except AttributeError:
        raise LocationError(
            "invalid_output", "pgbackrest info JSON has an unexpected shape"
        ) from None
    info.backups.sort(key=lambda b: b.stop)
    return info


def run_info(command: str, stanza: str, timeout: float) -> bytes:
    argv = shlex.split(command) + [f"--stanza={stanza}", "--output=json", "info"]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise LocationError("command", f"pgbackrest command not found: {argv[0]}") from None
    except PermissionError:
        raise LocationError("command", f"pgbackrest command not executable: {argv[0]}") from None
    except subprocess.TimeoutExpired:
        raise LocationError(
            "timeout", f"pgbackrest info did not answer within {timeout:g}s"
        ) from None
    if done.returncode != 0:
        last = (done.stderr.decode("utf-8", "replace").strip().splitlines() or [""])[-1][:200]
        raise LocationError("command", f"pgbackrest info exited with {done.returncode}: {last}")
    return done.stdout


class PgBackRestTarget(Target):
    collectors = ("pgbackrest",)

    def __init__(self, system: System, backup: Backup, state_dir: str, timeout: float):
        super().__init__(system.name, backup.name, timeout)
        self.backup, self.timezone = backup, system.timezone
        self.state = BackupState(state_dir, system.name, backup.name)

    def collect(self, sink: Sink, timeout: float) -> None:
        now = time.time()
        started = time.monotonic()
        stanza = self.backup.pgbackrest
        assert stanza is not None  # a pgBackRest target has its stanza
        try:
            info = parse_info(
                run_info(stanza.command, stanza.stanza, max(0.1, timeout - 0.1)), stanza.stanza
            )
        except LocationError:
            sink.collectors["pgbackrest"] = CollectorRun(False, time.monotonic() - started)
            raise  # the backup is down, with the error's reason
        self.state.load()
        if self.state.first_seen is None:
            self.state.first_seen = now
            self.state.save()
        self._emit(sink, info)
        sink.collectors["pgbackrest"] = CollectorRun(True, time.monotonic() - started)

    def _emit(self, sink: Sink, info: StanzaInfo) -> None:
        b = self.backup
        good = [s for s in info.backups if not s.error]
        sink.add(PGBACKREST_STATUS_CODE, info.status_code)
        sink.add(RUNNING, 1 if info.backup_running else 0)
        sink.add(KEPT, len(info.backups))
        sink.add(MIN_SIZE_BYTES, b.min_size)
        if info.backups:
            newest = info.backups[-1]
            sink.add(SIZE_BYTES, newest.repo_size)
            sink.add(NEWEST_TIMESTAMP_SECONDS, newest.stop)
            previous = [s for s in info.backups[:-1] if s.type == newest.type]
            if previous and previous[-1].repo_size > 0:
                sink.add(SIZE_CHANGE_RATIO, newest.repo_size / previous[-1].repo_size)
        good_sized = [s for s in good if s.repo_size >= b.min_size or s.type != "full"]
        if good_sized:
            sink.add(LAST_SUCCESS_TIMESTAMP_SECONDS, good_sized[-1].stop)
        for kind in TYPES:
            of_kind = [s for s in good if s.type == kind]
            if of_kind:
                sink.add(TYPE_LAST_SUCCESS_TIMESTAMP_SECONDS, of_kind[-1].stop, kind)
        if b.schedule:
            sink.add(
                DEADLINE_TIMESTAMP_SECONDS,
                deadline(
                    b.schedule,
                    self.timezone,
                    good_sized[-1].stop if good_sized else None,
                    self.state.first_seen,
                    b.grace,
                ),
            )
