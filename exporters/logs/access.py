"""nginx / Apache access logs in the combined (or common) format.

Optionally with the request time as the last field, in seconds with a
decimal point, as nginx's ``$request_time`` writes it (e.g. ``log_format
timed '... "$http_user_agent" $request_time'``).  Lines that do not parse are
counted as unparsed, never guessed at.
"""
from __future__ import annotations

import bisect
import re
from collections import Counter

from ..metrics import counter, histogram


# seconds; the SLA's response time (2 s by default) falls on a bucket edge
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0, 30.0)
CODE_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")

_QUOTED = rb'"(?:[^"\\\n]|\\.)*"'
LINE = re.compile(
    rb"^\S+ \S+ \S+ \[[^\]\n]*\] " + _QUOTED +            # host ident user [time] "request"
    rb" ([1-5])\d\d (?:\d+|-)"                              # status, bytes
    rb"(?: " + _QUOTED + rb" " + _QUOTED + rb")?"           # "referer" "user agent" (combined)
    rb"(?:[^\n]*? ([0-9]+\.[0-9]+)[ \t\r]*$|[^\n]*)",     # request time, if it ends the line
    re.MULTILINE)


REQUESTS_TOTAL = counter(
    "aftercare_http_requests_total",
    "HTTP requests answered, from the access log, by status class (2xx, 4xx, 5xx...).",
    "code_class")
REQUEST_DURATION_SECONDS = histogram(
    "aftercare_http_request_duration_seconds",
    "Time the server took to answer, from the request time at the end of each access log line, "
    "in seconds.")
UNPARSED_LINES_TOTAL = counter(
    "aftercare_http_unparsed_lines_total",
    "Access log lines that are not in the combined or common format.")

# what the counts are keyed by (the follower keeps its totals by name)
REQUESTS = REQUESTS_TOTAL.name
DURATION = REQUEST_DURATION_SECONDS.name
UNPARSED = UNPARSED_LINES_TOTAL.name


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


class AccessCounter:
    """Counts one chunk of access log lines: requests by class, durations, unparsed lines."""

    def __call__(self, chunk: bytes) -> Counter:
        out = Counter()
        matches = LINE.findall(chunk)
        unparsed = chunk.count(b"\n") - len(matches)
        if unparsed:
            out[(UNPARSED,)] = unparsed
        durations = Counter()
        for (cls, seconds), n in Counter(matches).items():
            out[(REQUESTS, f"{cls.decode()}xx")] += n
            if seconds:
                durations[float(seconds)] += n
        for seconds, n in durations.items():
            first = bisect.bisect_left(BUCKETS, seconds)
            for bound in BUCKETS[first:]:
                out[(DURATION, "bucket", _le(bound))] += n
            out[(DURATION, "bucket", "+Inf")] += n
            out[(DURATION, "sum", "")] += seconds * n
            out[(DURATION, "count", "")] += n
        return out


def zero_samples():
    """(key, 0) for every series that should exist before the first request."""
    for cls in CODE_CLASSES:
        yield (REQUESTS, cls)
    yield (UNPARSED,)
    for bound in BUCKETS:
        yield (DURATION, "bucket", _le(bound))
    yield (DURATION, "bucket", "+Inf")
    yield (DURATION, "sum", "")
    yield (DURATION, "count", "")
