"""The outbox (or inbox) backlog: files waiting to be sent or picked up."""

from __future__ import annotations

import fnmatch
import os

from ..config import Outbox


def backlog(outbox: Outbox, now: float) -> tuple[int, float]:
    """(number of waiting files, age in seconds of the oldest; 0 when empty)."""
    count, oldest = 0, None
    with os.scandir(outbox.path) as entries:
        for entry in entries:
            if not fnmatch.fnmatchcase(entry.name, outbox.pattern):
                continue
            try:
                if not entry.is_file():
                    continue
                mtime = entry.stat().st_mtime
            except FileNotFoundError:
                continue  # sent while we looked
            count += 1
            oldest = mtime if oldest is None else min(oldest, mtime)
    return count, (max(0.0, now - oldest) if oldest is not None else 0.0)
