"""A backup's remembered state, and the background verification worker.

``<state_dir>/backups/<system>/<backup>.json`` keeps the last look at every
file (for the "done being written" test), the verification results keyed by
path + size + mtime, and when the exporter first watched the backup.  It is
rewritten atomically when it changes; if the state dir cannot be written
the exporter keeps it in memory and says so once.

Verification never runs on a scrape's clock: the scrape hands a new file
to the target's one worker thread and waits for the result only as long as
its own timeout allows.  A quick check (a small gzip, a sha256) is reported
at the same scrape; a long pg_restore keeps running after the scrape has
answered (``aftercare_backup_verify_pending`` 1) and its result is reported
from the cache at the first scrape after it ends.  A file is verified once:
the result stays cached until the file's size or mtime changes.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from ..metrics import LOG_NAME, safe_error
from ..statefile import write_atomic
from .fileset import BackupFile
from .verify import VERIFIERS, VERIFY_TIMEOUT, Cancelled

log = logging.getLogger(LOG_NAME)


class BackupState:
    def __init__(self, state_dir: str, system: str, backup: str):
        self.path = Path(state_dir) / "backups" / system / f"{backup}.json"
        self.lock = threading.Lock()
        self.looks: dict[str, list] = {}
        self.verified: dict[str, dict] = {}
        self.first_seen: float | None = None
        self._loaded = False
        self._warned = False

    def load(self) -> None:
        """Read the saved state once; a corrupt file is set aside, never fatal."""
        if self._loaded:
            return
        self._loaded = True
        try:
            raw = json.loads(self.path.read_bytes())
            looks, verified = raw.get("looks", {}), raw.get("verified", {})
            if not isinstance(looks, dict) or not isinstance(verified, dict):
                raise ValueError("looks and verified must be mappings")
            self.looks = {
                p: list(v) for p, v in looks.items() if isinstance(v, list) and len(v) == 2
            }
            self.verified = {p: v for p, v in verified.items() if isinstance(v, dict) and "ok" in v}
            first = raw.get("first_seen")
            self.first_seen = float(first) if isinstance(first, (int, float)) else None
        except FileNotFoundError:
            pass
        except (OSError, ValueError, TypeError, AttributeError) as err:
            log.warning(
                "backup state unreadable, starting afresh",
                extra={"file": str(self.path), "err": safe_error(err)},
            )

    def save(self) -> None:
        with self.lock:
            data = json.dumps(
                {"first_seen": self.first_seen, "looks": self.looks, "verified": self.verified},
                indent=1,
                sort_keys=True,
            ).encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, data)
        except OSError as err:
            if not self._warned:
                self._warned = True
                log.warning(
                    "cannot save backup state; kept in memory until restart",
                    extra={"file": str(self.path), "err": safe_error(err)},
                )

    def result(self, f: BackupFile) -> dict | None:
        with self.lock:
            entry = self.verified.get(f.path)
        return entry if entry and entry.get("key") == f.key else None

    def store_result(self, f: BackupFile, entry: dict) -> None:
        with self.lock:
            self.verified[f.path] = {"key": f.key, **entry}


class Verifier:
    """One worker per backup: one verification at a time, each file once."""

    def __init__(self, method: str, state: BackupState, name: str):
        self.method, self.state, self.name = method, state, name
        self.cancel = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"verify-{name}")
        self.pending: dict[tuple, Future] = {}
        self.lock = threading.Lock()

    def submit(self, f: BackupFile) -> Future:
        key = (f.path, *f.key)
        with self.lock:
            future = self.pending.get(key)
            if future is None:
                future = self.pending[key] = self.pool.submit(self._verify, f)
                future.add_done_callback(lambda _: self._forget(key))
            return future

    def _forget(self, key) -> None:
        with self.lock:
            self.pending.pop(key, None)

    def busy(self) -> bool:
        with self.lock:
            return bool(self.pending)

    def _verify(self, f: BackupFile) -> None:
        started = time.time()
        try:
            ok, detail = VERIFIERS[self.method](f.path, VERIFY_TIMEOUT, self.cancel)
        except Cancelled:
            return
        except Exception as err:  # a checker's bug is a failed check, never a dead worker
            ok, detail = False, safe_error(err)
        finished = time.time()
        self.state.store_result(
            f,
            {
                "ok": ok,
                "method": self.method,
                "finished": finished,
                "duration": finished - started,
                "detail": detail,
            },
        )
        self.state.save()
        (log.info if ok else log.warning)(
            "backup verified" if ok else "backup verification failed",
            extra={
                "backup": self.name,
                "file": f.path,
                "method": self.method,
                "detail": detail,
                "seconds": round(finished - started, 3),
            },
        )

    def close(self) -> None:
        self.cancel.set()
        self.pool.shutdown(wait=False, cancel_futures=True)
