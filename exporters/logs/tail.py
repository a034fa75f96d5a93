"""Follow every file matching a glob, rotation-safe, counting each complete line once.

Files are known by ``(device, inode)``.  Offsets, a fingerprint of each
file's first bytes and the running totals are saved together, atomically, in
one small JSON state file per followed source, so a restarted exporter goes on
where it stopped and never counts a line twice.

- rename rotation (``app.log`` -> ``app.log.1`` + new ``app.log``): the old
  inode keeps its offset under its new name; a handle kept open between polls
  drains its last lines even when the new name no longer matches the glob;
- copytruncate: the followed file shrinks or its first bytes change, so it is
  read again from 0; a copy matching the glob that starts with the same bytes
  takes over the old offset instead of being read twice;
- new files are read from their start; when a source is first followed (no
  state yet: ``anchor()``, called as the exporter starts or a reload adds the
  source) existing files are taken from their end, so starting the exporter
  never replays old history and a line written before the first scrape counts;
- a partial last line is left for the next poll; a line longer than
  ``max_line`` is counted once, by its first ``max_line`` bytes;
- each poll reads at most ``max_bytes`` and stops at a deadline; the rest is
  read at the next poll (see ``backlog_bytes``);
- a log not in UTF-8 (``encoding``) is cut into lines and decoded by its
  :mod:`.encoding` codec; offsets stay byte offsets, invalid bytes are counted.
"""

from __future__ import annotations

import errno
import fcntl
import glob
import hashlib
import json
import os
import stat
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from .encoding import line_codec

ChunkCounter = Callable[[bytes], Counter]

STATE_VERSION = 1
FINGERPRINT_BYTES = 256
CHUNK_BYTES = 16 << 20
MAX_LINE_BYTES = 1 << 20


def _fingerprint(fd: int, length: int) -> str:
    return hashlib.blake2b(os.pread(fd, length, 0), digest_size=12).hexdigest()


def _key(st: os.stat_result) -> str:
    return f"{st.st_dev}:{st.st_ino}"


@dataclass
class PollResult:
    """What one poll saw: for metrics and for a clear log line."""

    files: int = 0  # readable files followed
    unreadable: int = 0  # files matching the glob that could not be opened
    bytes_read: int = 0
    lines_read: int = 0
    backlog_bytes: int = 0  # bytes left for later polls
    state_saved: bool = True
    problems: list[str] = field(default_factory=list)  # safe one-line descriptions


@dataclass
class _Open:
    fd: int
    path: str


class Follower:
    """Follows one glob; ``poll(counter)`` counts what was appended since the last poll."""

    def __init__(
        self,
        pattern: str,
        state_file: str,
        *,
        max_bytes: int = 256 << 20,
        chunk_bytes: int = CHUNK_BYTES,
        max_line: int = MAX_LINE_BYTES,
        encoding: str = "utf-8",
    ):
        self.pattern = pattern
        self.codec = line_codec(encoding)
        self.state_file = state_file
        self.max_bytes = max_bytes
        self.chunk_bytes = chunk_bytes
        self.max_line = max_line
        self.handles: dict[str, _Open] = {}
        self.state: dict = {}
        self._signature = None

    # --- state -----------------------------------------------------------------------

    def _load(self) -> dict:
        try:
            with open(self.state_file, encoding="utf-8") as fh:
                state = json.load(fh)
            if state.get("version") == STATE_VERSION and isinstance(state.get("files"), dict):
                return state
        except FileNotFoundError:
            pass
        except (OSError, ValueError):
            pass  # unreadable or corrupt: start as new (from the end), never replay
        return {
            "version": STATE_VERSION,
            "initialized": False,
            "files": {},
            "totals": {},
            "lines": 0,
            "bytes": 0,
            "decode_errors": 0,
            "last_line_time": None,
        }

    def _disk_signature(self):
        try:
            st = os.stat(self.state_file)
            return st.st_ino, st.st_size, st.st_mtime_ns
        except OSError:
            return None

    def _refresh(self) -> None:
        """Load the state unless the file is still the one we last read or wrote
        (so a state that cannot be saved still progresses in memory)."""
        signature = self._disk_signature()
        if not self.state or signature != self._signature:
            self.state = self._load()
            self._signature = signature

    def _save(self) -> None:
        os.makedirs(os.path.dirname(self.state_file) or ".", exist_ok=True)
        tmp = f"{self.state_file}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(self.state, fh, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.state_file)
        self._signature = self._disk_signature()

    def _lock(self, deadline: float):
        """An exclusive lock on the state, so a reloaded exporter's old and new
        objects never count the same bytes.  None if it cannot be taken."""
        os.makedirs(os.path.dirname(self.state_file) or ".", exist_ok=True)
        fd = os.open(f"{self.state_file}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                    os.close(fd)
                    return None
                time.sleep(0.01)

    @property
    def totals(self) -> dict[tuple[str, ...], float]:
        return {tuple(k.split("\t")): v for k, v in self.state.get("totals", {}).items()}

    # --- polling --------------------------------------------------------------------

    def anchor(self, deadline: float | None = None) -> None:
        """Fix the start positions now if this source was never followed: each existing
        file from the end of its last complete line.  Lines written from now on count,
        even before the first poll; a followed source (state on disk) is left as it is."""
        self._refresh()
        if not self.state.get("initialized"):
            self.poll(lambda chunk: Counter(), deadline or time.monotonic() + 2.0)

    def poll(self, counter: ChunkCounter, deadline: float | None = None) -> PollResult:
        """Read what was appended (bounded by ``max_bytes`` and ``deadline``, a
        ``time.monotonic()`` value) and add ``counter``'s counts to the totals."""
        deadline = deadline if deadline is not None else time.monotonic() + 3600
        result = PollResult()
        lock = None
        try:
            lock = self._lock(deadline)
            if lock is None:  # another reader of this log is still at it
                result.state_saved = False
                result.problems.append("the state file is locked by another reader")
                self._refresh()
                return result
        except OSError as err:  # no state dir: count in memory only
            result.problems.append(f"cannot lock the state file: {err.strerror}")
        self._refresh()
        try:
            self._poll(counter, deadline, result)
            self.state["initialized"] = True
            try:
                self._save()
            except OSError as err:
                result.state_saved = False
                result.problems.append(f"cannot save the read offsets: {err.strerror}")
        finally:
            if lock is not None:
                os.close(lock)
        return result

    def _matching(self, result: PollResult) -> dict[str, tuple[str, os.stat_result]]:
        found: dict[str, tuple[str, os.stat_result]] = {}
        for path in sorted(glob.glob(self.pattern)):
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue  # vanished between glob and stat
            except OSError as err:
                result.unreadable += 1
                result.problems.append(f"cannot stat {path}: {err.strerror}")
                continue
            if stat.S_ISREG(st.st_mode):
                found.setdefault(_key(st), (path, st))
        return found

    def _open(self, key: str, path: str, result: PollResult) -> _Open | None:
        handle = self.handles.get(key)
        if handle is not None:
            handle.path = path
            return handle
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as err:
            result.unreadable += 1
            result.problems.append(f"cannot open {path}: {err.strerror}")
            return None
        if _key(os.fstat(fd)) != key:  # replaced between stat and open
            os.close(fd)
            return None
        handle = self.handles[key] = _Open(fd, path)
        return handle

    def _poll(self, counter: ChunkCounter, deadline: float, result: PollResult) -> None:
        files: dict = self.state["files"]
        first_poll = not self.state.get("initialized")
        found = self._matching(result)

        # files we hold open that left the glob (renamed away, deleted): drain them
        leaving = [k for k in self.handles if k not in found]
        budget = [self.max_bytes]
        for key in leaving:
            held = self.handles[key]
            entry = files.get(key)
            size = os.fstat(held.fd).st_size
            if entry is not None and entry["offset"] <= size:
                self._read(held, entry, size, counter, deadline, budget, result)
                if entry["offset"] < size and (budget[0] <= 0 or time.monotonic() >= deadline):
                    result.backlog_bytes += size - entry["offset"]
                    continue  # finish at the next poll
            os.close(held.fd)
            del self.handles[key]
            files.pop(key, None)

        # identity checks: known files that shrank or changed their first bytes were
        # truncated (copytruncate) or replaced on a reused inode: read them from 0
        opened: dict[str, tuple[_Open, os.stat_result]] = {}
        reset: dict[str, dict] = {}
        for key, (path, st) in found.items():
            handle = self._open(key, path, result)
            if handle is None:
                continue
            st = os.fstat(handle.fd)
            opened[key] = (handle, st)
            entry = files.get(key)
            if entry is None:
                continue
            same = st.st_size >= entry["offset"] and (
                entry["fp_len"] == 0 or _fingerprint(handle.fd, entry["fp_len"]) == entry["fp"]
            )
            if not same:
                reset[key] = entry
                files[key] = {"offset": 0, "fp": "", "fp_len": 0, "skip": False}

        # new files: a copy of a truncated file takes over its offset; others start
        # at 0, or at the end of their last complete line at a source's first poll
        for key, (handle, st) in opened.items():
            if key in files:
                continue
            entry = {"offset": 0, "fp": "", "fp_len": 0, "skip": False}
            if first_poll:
                entry["offset"] = self._last_line_end(handle.fd, st.st_size)
            else:
                for old_key, old in list(reset.items()):
                    if (
                        old["fp_len"]
                        and st.st_size >= old["offset"]
                        and _fingerprint(handle.fd, old["fp_len"]) == old["fp"]
                    ):
                        entry.update(offset=old["offset"], skip=old.get("skip", False))
                        reset.pop(old_key, None)
                        break
            files[key] = entry

        # read, oldest first so that rotated files come before the current one
        for key, (handle, st) in sorted(opened.items(), key=lambda kv: kv[1][1].st_mtime):
            entry = files[key]
            entry["path"] = handle.path
            if entry["fp_len"] < FINGERPRINT_BYTES and st.st_size > entry["fp_len"]:
                entry["fp_len"] = min(FINGERPRINT_BYTES, st.st_size)
                entry["fp"] = _fingerprint(handle.fd, entry["fp_len"])
            self._read(handle, entry, st.st_size, counter, deadline, budget, result)
            result.backlog_bytes += max(0, st.st_size - entry["offset"])
            result.files += 1

        for key in list(files):  # forget files that are gone for good
            if key not in opened and key not in self.handles:
                del files[key]

    def _last_line_end(self, fd: int, size: int) -> int:
        """Offset just after the last newline before ``size`` (0 if none)."""
        codec = self.codec.for_file(fd)
        end = size - size % codec.unit
        while end > 0:
            start = max(0, end - 65536)
            i = codec.last_line_end(os.pread(fd, end - start, start))
            if i > 0:
                return start + i
            end = start
        return 0

    def _read(
        self,
        handle: _Open,
        entry: dict,
        size: int,
        counter: ChunkCounter,
        deadline: float,
        budget: list[int],
        result: PollResult,
    ) -> None:
        """Count the complete lines of ``handle`` from its offset up to ``size``."""
        read_any = False
        codec = self.codec.for_file(handle.fd)
        unit = codec.unit
        while entry["offset"] < size and budget[0] > 0 and time.monotonic() < deadline:
            want = min(size - entry["offset"], max(min(self.chunk_bytes, budget[0]), self.max_line))
            chunk = os.pread(handle.fd, want, entry["offset"])
            if not chunk:
                break
            if entry.get("skip"):  # the rest of an over-long line counted before
                end = codec.first_line_end(chunk)
                consumed = end or len(chunk) - len(chunk) % unit
                if not consumed:
                    break  # half a code unit: wait for the rest
                entry["skip"] = end == 0
                self._advance(entry, consumed, budget, result)
                continue
            end = codec.last_line_end(chunk)
            if end:
                lines = chunk[:end] if end < len(chunk) else chunk
            elif len(chunk) < self.max_line:
                break  # a partial last line: wait for the rest
            else:  # an over-long line: count it once, by its head
                lines = codec.cut(chunk[: self.max_line]) + codec.newline
                entry["skip"] = True
            at_start = entry["offset"] == 0
            self._advance(entry, end or len(chunk) - len(chunk) % unit, budget, result)
            counts, n, errors = codec.count(lines, at_start, counter)
            result.lines_read += n
            self._add(counts, n, errors)
            read_any = True
        if read_any:
            self.state["last_line_time"] = max(
                self.state.get("last_line_time") or 0.0, os.fstat(handle.fd).st_mtime
            )

    def _advance(self, entry: dict, consumed: int, budget: list[int], result: PollResult) -> None:
        entry["offset"] += consumed
        budget[0] -= consumed
        result.bytes_read += consumed
        self.state["bytes"] += consumed

    def _add(self, counts: Counter, lines: int, decode_errors: int = 0) -> None:
        totals = self.state["totals"]
        for key, value in counts.items():
            name = "\t".join(key)
            totals[name] = totals.get(name, 0) + value
        self.state["lines"] += lines
        if decode_errors:
            self.state["decode_errors"] = self.state.get("decode_errors", 0) + decode_errors

    def close(self) -> None:
        for handle in self.handles.values():
            try:
                os.close(handle.fd)
            except OSError:
                pass
        self.handles.clear()
