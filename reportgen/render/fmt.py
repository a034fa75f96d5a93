"""Number, duration and size formatting for the rendered report."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def pct(value, digits: int = 3) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def dur(seconds) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def size(value) -> str:
    if value is None:
        return "—"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(value)


def num(value, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def secs(value) -> str:
    return "—" if value is None else f"{value:.3f} s"


def when(ts, tz: str) -> str:
    if ts is None:
        return "—"
    return dt.datetime.fromtimestamp(ts, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def by_unit(value, unit: str) -> str:
    """A checklist figure by its unit (ratio, seconds, days, count)."""
    if value is None:
        return "—"
    if unit == "ratio":
        return pct(value, 2)
    if unit == "seconds":
        return secs(value) if value < 60 else dur(value)
    if unit == "days":
        return f"{value:.1f} d"
    return num(value)


FILTERS = {
    "pct": pct,
    "dur": dur,
    "size": size,
    "num": num,
    "secs": secs,
    "when": when,
    "by_unit": by_unit,
}
