"""A backup's file set: the files its glob matches, and which of them are complete.

A file counts only once it is done being written: not named ``*.partial``
or ``*.tmp`` (also ``.part``, ``.inprogress``), and unchanged in size and
mtime since the previous look.  A file seen for the first time counts at
once only if it has not been touched for ``SETTLE_SECONDS``; a fresh one
waits for the next look (the next scrape), which catches a dump still
growing.  Looks are kept across exporter restarts in the backup's state.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass

SETTLE_SECONDS = 60.0
IN_PROGRESS_SUFFIXES = (".partial", ".tmp", ".part", ".inprogress")
SIDECAR_SUFFIXES = (".sha256",)


class LocationError(Exception):
    """The backup location cannot be read; ``reason`` is one of the area's reasons."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class BackupFile:
    path: str
    size: int
    mtime_ns: int

    @property
    def mtime(self) -> float:
        return self.mtime_ns / 1e9

    @property
    def key(self) -> list:
        return [self.size, self.mtime_ns]


def base_dir(pattern: str) -> str:
    """The part of a glob before its first wildcard: the directory that must exist."""
    parts = pattern.split(os.sep)
    fixed = []
    for part in parts[:-1]:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return os.sep.join(fixed) or (os.sep if pattern.startswith(os.sep) else ".")


def scan(pattern: str) -> list[BackupFile]:
    """Every regular file the glob matches (sidecar checksum files left out)."""
    base = base_dir(pattern)
    try:
        with os.scandir(base):
            pass
    except FileNotFoundError:
        raise LocationError(
            "missing", f"backup directory {base} does not exist (path pattern {pattern})"
        ) from None
    except NotADirectoryError:
        raise LocationError(
            "missing", f"{base} is not a directory (path pattern {pattern})"
        ) from None
    except PermissionError:
        raise LocationError("unreadable", f"backup directory {base}: permission denied") from None
    files = []
    for path in glob.glob(pattern):
        if path.endswith(SIDECAR_SUFFIXES):
            continue
        try:
            st = os.stat(path)
        except OSError:
            continue  # removed (rotation) while we looked
        if os.path.isfile(path):
            files.append(BackupFile(path, st.st_size, st.st_mtime_ns))
    return sorted(files, key=lambda f: (f.mtime_ns, f.path))


def in_progress_name(path: str) -> bool:
    return os.path.basename(path).endswith(IN_PROGRESS_SUFFIXES)


def complete(files: list[BackupFile], looks: dict, now: float) -> list[BackupFile]:
    """The files done being written, oldest first; ``looks`` maps path -> [size, mtime_ns]."""
    done = []
    for f in files:
        if in_progress_name(f.path):
            continue
        before = looks.get(f.path)
        if before is not None:
            if list(before) == f.key:
                done.append(f)
        elif now - f.mtime >= SETTLE_SECONDS:
            done.append(f)
    return done
