"""Sticky top-N selection, so label sets do not churn from scrape to scrape.

A member stays a member until it disappears or an outsider grows clearly
larger than the smallest member (by ``margin``); free places go to the
largest outsiders.  Ties break on the name, so the choice is deterministic.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile

from ..metrics import LOG_NAME

log = logging.getLogger(LOG_NAME)

OTHER = "__other__"


def choose(members: list[str], values: dict[str, float], n: int, margin: float = 0.5) -> list[str]:
    """The next member list (sorted) given the current one and fresh ``values``."""
    kept = sorted(m for m in dict.fromkeys(members) if m in values)
    if len(kept) > n:
        kept = sorted(sorted(kept, key=lambda m: (-values[m], m))[:n])
    outsiders = sorted((k for k in values if k not in kept), key=lambda k: (-values[k], k))
    while len(kept) < n and outsiders:
        kept.append(outsiders.pop(0))
    for candidate in outsiders:  # largest first: at most n swaps
        if not kept:
            break
        smallest = min(kept, key=lambda m: (values[m], m))
        if values[candidate] <= values[smallest] * (1 + margin):
            break
        kept.remove(smallest)
        kept.append(candidate)
    return sorted(kept)


def load(path: str) -> dict:
    """Saved member lists, or {} when there are none or the file is unusable."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        log.warning(
            "ignoring unreadable top-N state", extra={"path": path, "err": type(err).__name__}
        )
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: [str(x) for x in v] for k, v in data.items() if isinstance(v, list)}


def save(path: str, data: dict) -> None:
    """Write atomically; a read-only state directory only costs stickiness across restarts."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".topn-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, sort_keys=True)
        os.replace(tmp, path)
    except OSError as err:
        log.warning("cannot save top-N state", extra={"path": path, "err": type(err).__name__})
