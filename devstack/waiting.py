"""Polling until a condition holds."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    interval: float = 0.1,
    what: str = "condition",
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Call predicate until it returns a truthy value and return it; AssertionError on timeout.

    Exceptions of the types in ``ignore`` count as a falsy result (and are shown as the last value).
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            last = predicate()
        except ignore as err:  # noqa: PERF203 - polling loop
            last = err
        else:
            if last:
                return last  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:g}s waiting for {what}; last value: {last!r}"
            )
        time.sleep(interval)
