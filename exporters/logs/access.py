"""nginx / Apache access logs: requests by status class, response times.

``format: combined`` (or common) is read by one regex below, optionally with
the request time as the last field, in seconds with a decimal point, as
nginx's ``$request_time`` writes it (e.g. ``log_format timed '...
"$http_user_agent" $request_time'``).  Lines that do not parse are
counted as unparsed, never guessed at.  The formats a server declares
(nginx ``log_format``, Apache ``LogFormat``, JSON lines) are read by a parser
from :mod:`.logformat`, optionally with a ``route`` label from the path.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter

from ..metrics import counter, histogram
from .logformat import Parser

# seconds; the SLA's response time (2 s by default) falls on a bucket edge
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0, 30.0)
CODE_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")

_QUOTED = rb'"(?:[^"\\\n]|\\.)*"'
LINE = re.compile(
    rb"^\S+ \S+ \S+ \[[^\]\n]*\] "
    + _QUOTED  # host ident user [time] "request"
    + rb" ([1-5])\d\d (?:\d+|-)"  # status, bytes
    rb"(?: " + _QUOTED + rb" " + _QUOTED + rb")?"  # "referer" "user agent" (combined)
    rb"(?:[^\n]*? ([0-9]+\.[0-9]+)[ \t\r]*$|[^\n]*)",  # request time, if it ends the line
    re.MULTILINE,
)


REQUESTS_TOTAL = counter(
    "aftercare_http_requests_total",
    "HTTP requests answered, from the access log, by status class (2xx, 4xx, 5xx...).",
    "code_class",
)
REQUEST_DURATION_SECONDS = histogram(
    "aftercare_http_request_duration_seconds",
    "Time the server took to answer, from the request time at the end of each access log line, "
    "in seconds.",
)
UNPARSED_LINES_TOTAL = counter(
    "aftercare_http_unparsed_lines_total",
    "Access log lines that do not fit the source's format (combined or common unless another "
    "is declared).",
)
UPSTREAM_DURATION_SECONDS = histogram(
    "aftercare_http_upstream_duration_seconds",
    "Time the upstream (proxied) server took to answer, from nginx's $upstream_response_time "
    "(the sum when several were tried), in seconds.",
)
ROUTE_REQUESTS_TOTAL = counter(
    "aftercare_http_route_requests_total",
    "HTTP requests by route (the first of the source's routes whose regex matches the path, "
    "else __other__) and status class.",
    "route",
    "code_class",
)
ROUTE_DURATION_SECONDS = histogram(
    "aftercare_http_route_request_duration_seconds",
    "Time the server took to answer, by route, in seconds.",
    "route",
)

# what the counts are keyed by (the follower keeps its totals by name)
REQUESTS = REQUESTS_TOTAL.name
DURATION = REQUEST_DURATION_SECONDS.name
UNPARSED = UNPARSED_LINES_TOTAL.name
UPSTREAM = UPSTREAM_DURATION_SECONDS.name
ROUTE_REQUESTS = ROUTE_REQUESTS_TOTAL.name
ROUTE_DURATION = ROUTE_DURATION_SECONDS.name
OTHER_ROUTE = "__other__"


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


class AccessCounter:
    """Counts one chunk of access log lines: requests by class, durations, unparsed lines."""

    def __call__(self, chunk: bytes) -> Counter:
        out: Counter[tuple] = Counter()
        matches = LINE.findall(chunk)
        unparsed = chunk.count(b"\n") - len(matches)
        if unparsed:
            out[(UNPARSED,)] = unparsed
        durations: Counter[float] = Counter()
        for (cls, seconds), n in Counter(matches).items():
            out[(REQUESTS, f"{cls.decode()}xx")] += n
            if seconds:
                durations[float(seconds)] += n
        for seconds, n in durations.items():
            observe(out, (DURATION,), seconds, n)
        return out


def observe(out: Counter, series: tuple, seconds: float, n: int = 1) -> None:
    """Add n observations of ``seconds`` to the histogram ``series`` (name, *labels)."""
    first = bisect.bisect_left(BUCKETS, seconds)
    for bound in BUCKETS[first:]:
        out[series + ("bucket", _le(bound))] += n
    out[series + ("bucket", "+Inf")] += n
    out[series + ("sum", "")] += seconds * n  # type: ignore[assignment]  # a histogram's sum
    out[series + ("count", "")] += n


def _histogram_keys(series: tuple):
    for bound in BUCKETS:
        yield series + ("bucket", _le(bound))
    yield series + ("bucket", "+Inf")
    yield series + ("sum", "")
    yield series + ("count", "")


class FormatAccessCounter:
    """Counts access log lines read by a parser of the declared format, with routes:
    an ordered list of (name, compiled path regex), the first that matches wins."""

    def __init__(self, parser: Parser, routes: tuple[tuple[str, re.Pattern], ...] = ()):
        self.parser, self.routes = parser, tuple(routes)

    def route(self, path: str | None) -> str:
        if path is not None:
            for name, regex in self.routes:
                if regex.search(path):
                    return name
        return OTHER_ROUTE

    def __call__(self, chunk: bytes) -> Counter:
        out: Counter[tuple] = Counter()
        seen: Counter[tuple] = Counter()
        routes: dict[str | None, str] = {}
        for line in chunk.split(b"\n")[:-1]:  # only lines that are complete
            entry = self.parser(line.removesuffix(b"\r"))
            if entry is None:
                out[(UNPARSED,)] += 1
                continue
            route = None
            if self.routes:
                route = routes.get(entry.path)
                if route is None:
                    route = routes[entry.path] = self.route(entry.path)
            seen[(entry.status_class, route, entry.request_time, entry.upstream_time)] += 1
        for (status_class, route, seconds, upstream), n in seen.items():
            cls = f"{status_class}xx"
            out[(REQUESTS, cls)] += n
            if route is not None:
                out[(ROUTE_REQUESTS, route, cls)] += n
            if seconds is not None:
                observe(out, (DURATION,), seconds, n)
                if route is not None:
                    observe(out, (ROUTE_DURATION, route), seconds, n)
            if upstream is not None:
                observe(out, (UPSTREAM,), upstream, n)
        return out

    def zero_samples(self):
        """(key, 0) for every series that should exist before the first request."""
        yield from zero_samples()
        yield from _histogram_keys((UPSTREAM,))
        if self.routes:
            for name in dict.fromkeys([n for n, _ in self.routes] + [OTHER_ROUTE]):
                for cls in CODE_CLASSES:
                    yield (ROUTE_REQUESTS, name, cls)
                yield from _histogram_keys((ROUTE_DURATION, name))


def zero_samples():
    """(key, 0) for every series that should exist before the first request."""
    for cls in CODE_CLASSES:
        yield (REQUESTS, cls)
    yield (UNPARSED,)
    yield from _histogram_keys((DURATION,))
