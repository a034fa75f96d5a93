"""A backup made of files matching a glob: freshness, size, count, shrinkage, verification."""
from __future__ import annotations

import logging
import time

from ..config import Backup, System
from ..schedule import deadline
from ..metrics import LOG_NAME, Sink
from ..runtime import Target
from .cache import BackupState, Verifier
from .fileset import complete, scan

log = logging.getLogger(LOG_NAME)

VERIFY_WAIT_SHARE = 0.8     # share of the target's timeout a scrape may wait for a verification


class FileBackupTarget(Target):
    collectors = ("files",)

    def __init__(self, system: System, backup: Backup, state_dir: str, timeout: float):
        super().__init__(system.name, backup.name, timeout)
        self.backup, self.timezone = backup, system.timezone
        self.state = BackupState(state_dir, system.name, backup.name)
        self.verifier = Verifier(backup.verify, self.state, backup.name) \
            if backup.verify != "none" else None
        if self.verifier:
            self.collectors = ("files", "verify")

    def collect(self, sink: Sink, timeout: float) -> None:
        started = time.monotonic()
        now = time.time()
        self.state.load()
        files = scan(self.backup.path)        # LocationError: down, with its reason
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
        sink.add("aftercare_backup_kept", len(done))
        finished = set(done)
        sink.add("aftercare_backup_in_progress_files", sum(1 for f in files if f not in finished))
        sink.add("aftercare_backup_min_size_bytes", b.min_size)
        if done:
            newest = done[-1]
            sink.add("aftercare_backup_size_bytes", newest.size)
            sink.add("aftercare_backup_newest_timestamp_seconds", newest.mtime)
            if len(done) > 1 and done[-2].size > 0:
                sink.add("aftercare_backup_size_change_ratio", newest.size / done[-2].size)
        if good:
            sink.add("aftercare_backup_last_success_timestamp_seconds", good[-1].mtime)
        if b.schedule:
            sink.add("aftercare_backup_deadline_timestamp_seconds",
                     deadline(b.schedule, self.timezone, good[-1].mtime if good else None,
                              self.state.first_seen, b.grace))

    def _verify(self, sink: Sink, newest, budget: float) -> None:
        if newest is None:
            sink.add("aftercare_backup_verify_pending", 0)
            return
        result = self.state.result(newest)
        if result is None:
            future = self.verifier.submit(newest)
            if budget > 0:
                try:
                    future.result(timeout=budget)
                except Exception:
                    pass                 # still running (or cancelled): reported as pending
            result = self.state.result(newest)
        sink.add("aftercare_backup_verify_pending", 0 if result else 1)
        if result:
            sink.add("aftercare_backup_verified", 1 if result["ok"] else 0)
            sink.add("aftercare_backup_last_verify_timestamp_seconds", result["finished"])
            sink.add("aftercare_backup_verify_duration_seconds", result.get("duration", 0.0))

    def close(self) -> None:
        if self.verifier:
            self.verifier.close()
