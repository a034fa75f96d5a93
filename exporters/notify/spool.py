"""The durable state of each channel under state_dir: queued notifications, the keys
of notifications already accepted (HA duplicates), and the times of recent sends.

Every notification is written to its own file and fsynced (file and directory)
before Alertmanager gets its 200, so a crash or kill -9 loses nothing: the
files are replayed at the next start and removed only once delivered.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..statefile import write_atomic

MAX_KEYS = 20000


def notification_key(payload: dict) -> str:
    """The same notification sent by both Alertmanagers of an HA pair has the same key."""
    alerts = sorted(
        (
            a.get("fingerprint") or json.dumps(a.get("labels"), sort_keys=True),
            a.get("startsAt", ""),
            a.get("status", ""),
        )
        for a in payload["alerts"]
    )
    text = json.dumps([payload.get("groupKey", ""), payload.get("status", ""), alerts])
    return hashlib.sha256(text.encode()).hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Queued:
    path: Path
    key: str
    received: float
    payload: dict


class ChannelState:
    """The spool, the accepted keys and the send times of one channel."""

    def __init__(self, state_dir: str, channel: str, dedup_window: float):
        self.dir = Path(state_dir) / "spool" / channel
        self.dir.mkdir(parents=True, exist_ok=True)
        self.keys_file = self.dir.parent.parent / f"{channel}.keys"
        self.sends_file = self.dir.parent.parent / f"{channel}.sends"
        self.dedup_window = dedup_window
        self.lock = threading.Lock()  # accepting
        self.send_lock = threading.Lock()  # delivering: one worker at a time, across reloads
        self._keys: dict[str, float] = {}
        self._load_keys()
        for item in self.queued():  # a key written to the spool but not to the key log
            self._keys.setdefault(item.key, item.received)

    # -- accepted keys ---------------------------------------------------------------------
    def _load_keys(self) -> None:
        cutoff = time.time() - self.dedup_window
        try:
            lines = self.keys_file.read_text().splitlines()
        except FileNotFoundError:
            return
        for line in lines:
            when, _, key = line.partition(" ")
            try:
                if float(when) >= cutoff and len(key) == 64:
                    self._keys[key] = float(when)
            except ValueError:
                continue  # a line cut short by a crash
        self._compact()

    def _compact(self) -> None:
        keep = sorted(self._keys.items(), key=lambda kv: kv[1])[-MAX_KEYS:]
        self._keys = dict(keep)
        write_atomic(self.keys_file, "".join(f"{t:.3f} {k}\n" for k, t in keep).encode())

    def _remember(self, key: str, when: float) -> None:
        self._keys[key] = when
        with open(self.keys_file, "a") as fh:
            fh.write(f"{when:.3f} {key}\n")
            fh.flush()
            os.fsync(fh.fileno())
        if len(self._keys) > MAX_KEYS * 1.5:
            self._compact()

    def accept(self, payload: dict) -> bool:
        """Spool ``payload`` durably; False when it is a duplicate of one accepted already."""
        key = notification_key(payload)
        now = time.time()
        with self.lock:
            seen = self._keys.get(key)
            if seen is not None and now - seen < self.dedup_window:
                return False
            record = {"key": key, "received": now, "payload": payload}
            name = f"{time.time_ns():020d}-{key[:16]}.json"
            write_atomic(self.dir / name, json.dumps(record, ensure_ascii=False).encode())
            self._remember(key, now)
        return True

    # -- the spool ---------------------------------------------------------------------------
    def queued(self) -> list[Queued]:
        """Queued notifications, oldest first (a file that cannot be read is skipped)."""
        out = []
        for path in sorted(self.dir.glob("*.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                out.append(
                    Queued(path, record["key"], float(record["received"]), record["payload"])
                )
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return out

    def remove(self, items: list[Queued]) -> None:
        for item in items:
            try:
                item.path.unlink()
            except FileNotFoundError:
                pass
        _fsync_dir(self.dir)

    # -- recent sends, for the rate limit across restarts -------------------------------------
    def recent_sends(self, window: float = 60.0) -> list[float]:
        try:
            times = json.loads(self.sends_file.read_text())
        except (OSError, ValueError):
            return []
        cutoff = time.time() - window
        return [t for t in times if isinstance(t, (int, float)) and t > cutoff]

    def record_send(self, when: float, window: float = 60.0) -> None:
        times = self.recent_sends(window) + [when]
        write_atomic(self.sends_file, json.dumps(times).encode())
