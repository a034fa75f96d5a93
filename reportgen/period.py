"""The reporting period: a calendar month or explicit dates, in a system's time zone."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo


class PeriodError(ValueError):
    """A --period/--from/--to value that cannot be understood."""


@dataclass(frozen=True)
class Period:
    """The half-open interval [start, end) in the time zone ``tz``."""

    start: dt.datetime
    end: dt.datetime
    tz: str
    label: str

    @property
    def seconds(self) -> float:
        return self.end.timestamp() - self.start.timestamp()

    @property
    def start_ts(self) -> float:
        return self.start.timestamp()

    @property
    def end_ts(self) -> float:
        return self.end.timestamp()

    def days(self) -> list[dt.date]:
        """The local calendar days the period touches."""
        day, last = self.start.date(), (self.end - dt.timedelta(microseconds=1)).date()
        out = []
        while day <= last:
            out.append(day)
            day += dt.timedelta(days=1)
        return out

    def local_day(self, ts: float) -> dt.date:
        return dt.datetime.fromtimestamp(ts, ZoneInfo(self.tz)).date()

    @property
    def file_label(self) -> str:
        """The period in a file name, with no colon (Windows and SMB shares refuse them):
        2026-11, 20261001-20261003 (whole days), 20261201T2022-20261201T2027 (times)."""
        if _MONTH.fullmatch(self.label):
            return self.label
        last = self.end - dt.timedelta(microseconds=1)
        if self.start.time() == dt.time(0) and self.end.time() == dt.time(0):
            return f"{self.start:%Y%m%d}-{last:%Y%m%d}"
        return f"{self.start:%Y%m%dT%H%M}-{self.end:%Y%m%dT%H%M}"

    def previous(self) -> Period:
        """The calendar month before a month period; the same length before otherwise."""
        if _MONTH.fullmatch(self.label):
            first = self.start.date().replace(day=1) - dt.timedelta(days=1)
            return month_period(f"{first.year:04d}-{first.month:02d}", self.tz)
        length = self.end - self.start
        return Period(self.start - length, self.start, self.tz, f"before {self.label}")


_MONTH = re.compile(r"(\d{4})-(\d{2})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def month_period(value: str, tz: str) -> Period:
    """``YYYY-MM``: that calendar month in ``tz`` (28 to 31 local days)."""
    match = _MONTH.fullmatch(value)
    if not match or not 1 <= int(match[2]) <= 12:
        raise PeriodError(f"--period {value!r}: expected a month as YYYY-MM, e.g. 2026-10")
    zone = ZoneInfo(tz)
    year, month = int(match[1]), int(match[2])
    start = dt.datetime(year, month, 1, tzinfo=zone)
    end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
    return Period(start, end, tz, value)


def previous_month(tz: str, now: dt.datetime | None = None) -> str:
    """The month before the current one in ``tz``, as YYYY-MM."""
    today = (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(tz)).date()
    last = today.replace(day=1) - dt.timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"


def _instant(value: str, tz: str, flag: str, end: bool) -> dt.datetime:
    zone = ZoneInfo(tz)
    if _DATE.fullmatch(value):
        day = dt.date.fromisoformat(value)
        if end:  # --to is an inclusive calendar day
            day += dt.timedelta(days=1)
        return dt.datetime(day.year, day.month, day.day, tzinfo=zone)
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PeriodError(
            f"{flag} {value!r}: expected a date YYYY-MM-DD or an RFC 3339 time"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(zone)


def explicit_period(start: str, end: str, tz: str) -> Period:
    """--from/--to: dates are local days (--to inclusive), times are exact instants."""
    first, last = _instant(start, tz, "--from", False), _instant(end, tz, "--to", True)
    if last <= first:
        raise PeriodError(f"--to {end!r} is not after --from {start!r}")
    return Period(first, last, tz, f"{start}..{end}")
