"""What the evidence sources of one job say, merged: the newest word wins."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Evidence:
    last_run: float | None = None  # when the last finished run ended
    last_run_ok: bool | None = None
    last_duration: float | None = None
    last_records: int | None = None
    last_success: float | None = None  # when the last successful run ended

    def run(
        self,
        end: float | None,
        ok: bool | None,
        duration: float | None = None,
        records: int | None = None,
    ) -> None:
        """A finished run seen by one source; kept if it is the newest so far."""
        if end is None or (self.last_run is not None and end < self.last_run):
            return
        self.last_run, self.last_run_ok = end, ok
        self.last_duration, self.last_records = duration, records
        if ok:
            self.success(end)

    def success(self, end: float | None) -> None:
        if end is not None and (self.last_success is None or end > self.last_success):
            self.last_success = end
