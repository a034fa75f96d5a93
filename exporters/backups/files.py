"""A backup made of files matching a glob: freshness, size, count, shrinkage, verification."""

from __future__ import annotations

import logging
import time

from ..config import Backup, System
from ..metrics import LOG_NAME, Sink, gauge
from ..runtime import Target
from ..schedule import deadline
from .cache import BackupState, Verifier
from .fileset import complete, scan
from .series import (
    DEADLINE_TIMESTAMP_SECONDS,
    KEPT,
    LAST_SUCCESS_TIMESTAMP_SECONDS,
    MIN_SIZE_BYTES,
    NEWEST_TIMESTAMP_SECONDS,
    SIZE_BYTES,
    SIZE_CHANGE_RATIO,
)

log = logging.getLogger(LOG_NAME)

VERIFY_WAIT_SHARE = 0.8  # share of the target's timeout a scrape may wait for a verification

IN_PROGRESS_FILES = gauge(
    "aftercare_backup_in_progress_files",
    "Files matching the path that are still being written (.partial/.tmp name, or size or "
    "mtime changing between looks).",
)
VERIFIED = gauge(
    "aftercare_backup_verified",
    "1 if the newest complete backup passed verification (pg_restore read-back, gzip -t or "
    "sha256 sidecar), 0 if it failed; absent while its verification is pending.",
)
VERIFY_PENDING = gauge(
    "aftercare_backup_verify_pending",
    "1 while the newest complete backup's verification has not finished yet.",
)
LAST_VERIFY_TIMESTAMP_SECONDS = gauge(
    "aftercare_backup_last_verify_timestamp_seconds",
    "Unix time the newest complete backup's verification finished.",
)
VERIFY_DURATION_SECONDS = gauge(
    "aftercare_backup_verify_duration_seconds",
    "Seconds the newest complete backup's verification took.",
)


class FileBackupTarget(Target):
    collectors: tuple[str, ...] = ("files",)

    def __init__(self, system: System, backup: Backup, state_dir: str, timeout: float):
        super().__init__(system.name, backup.name, timeout)
        self.backup, self.timezone = backup, system.timezone
        self.state = BackupState(state_dir, system.name, backup.name)
        self.verifier = (
            Verifier(backup.verify, self.state, backup.name) if backup.verify != "none" else None
        )
        if self.verifier:
            self.collectors = ("files", "verify")

    def collect(self, sink: Sink, timeout: float) -> None:
        started = time.monotonic()
        now = time.time()
        self.state.load()
        assert self.backup.path is not None  # a files target has its path
        files = scan(self.backup.path)  # LocationError: down, with its reason
        with self.state.lock:
            done = complete(files, self.state.looks, now)
            new_looks = {f.path: f.key for f in files}
            changed = new_looks != self.state.looks or self.state.first_seen is None
            self.state.looks = new_looks
            if self.state.first_seen is None:
                self.state.first_seen = now
            present = set(new_looks)
            for path in [p for p in self.state.verified if p not in present]:
                del self.state.verified[path]
        if changed:
            self.state.save()

        with sink.collector("files", log, self.name):
            self._files(sink, files, done)
        if self.verifier:
            with sink.collector("verify", log, self.name):
                budget = timeout * VERIFY_WAIT_SHARE - (time.monotonic() - started)
                self._verify(sink, done[-1] if done else None, budget)

    def _files(self, sink: Sink, files, done) -> None:
        b = self.backup
        good = [f for f in done if f.size >= b.min_size]
        sink.add(KEPT, len(done))
        finished = set(done)
        sink.add(IN_PROGRESS_FILES, sum(1 for f in files if f not in finished))
        sink.add(MIN_SIZE_BYTES, b.min_size)
        if done:
            newest = done[-1]
            sink.add(SIZE_BYTES, newest.size)
            sink.add(NEWEST_TIMESTAMP_SECONDS, newest.mtime)
            if len(done) > 1 and done[-2].size > 0:
                sink.add(SIZE_CHANGE_RATIO, newest.size / done[-2].size)
        if good:
            sink.add(LAST_SUCCESS_TIMESTAMP_SECONDS, good[-1].mtime)
        if b.schedule:
            sink.add(
                DEADLINE_TIMESTAMP_SECONDS,
                deadline(
                    b.schedule,
                    self.timezone,
                    good[-1].mtime if good else None,
                    self.state.first_seen,
                    b.grace,
                ),
            )

    def _verify(self, sink: Sink, newest, budget: float) -> None:
        if newest is None:
            sink.add(VERIFY_PENDING, 0)
            return
        result = self.state.result(newest)
        if result is None:
            assert self.verifier is not None  # _verify runs only when verify is configured
            future = self.verifier.submit(newest)
            if budget > 0:
                try:
                    future.result(timeout=budget)
                except Exception:
                    pass  # still running (or cancelled): reported as pending
            result = self.state.result(newest)
        sink.add(VERIFY_PENDING, 0 if result else 1)
        if result:
            sink.add(VERIFIED, 1 if result["ok"] else 0)
            sink.add(LAST_VERIFY_TIMESTAMP_SECONDS, result["finished"])
            sink.add(VERIFY_DURATION_SECONDS, result.get("duration", 0.0))

    def close(self) -> None:
        if self.verifier:
            self.verifier.close()
