"""A small Prometheus HTTP API client: auth, custom CA, bounded retries, range splitting.

Every query is logged (expression, kind, server-side time) so that the report's
appendix can list each PromQL query it used and the benchmark can sum the time
Prometheus spent answering.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from .httpconfig import HTTPClientConfig, build_session

MAX_POINTS = 11000  # Prometheus rejects range queries above this per series
DEFAULT_MAX_RANGE = 768 * 3600  # Mimir's default max_query_length


class PromError(RuntimeError):
    """Prometheus could not be reached or refused a query (after retries)."""


@dataclass
class QueryRecord:
    expr: str
    kind: str
    seconds: float
    points: int


@dataclass
class QueryLog:
    records: list[QueryRecord] = field(default_factory=list)

    @property
    def server_seconds(self) -> float:
        return sum(r.seconds for r in self.records)

    def expressions(self) -> list[str]:
        """Distinct expressions in first-use order."""
        seen: dict[str, None] = {}
        for record in self.records:
            seen.setdefault(record.expr, None)
        return list(seen)


def _one_line(text) -> str:
    return " ".join(str(text).split())


def _pair(value) -> tuple[float, float]:
    """A [timestamp, "value"] pair as floats ("NaN" and "+Inf" included)."""
    t, v = value  # raises on anything but a pair
    return float(t), float(v)


def _series_list(result) -> list[dict]:
    """The ``result`` of a vector or matrix answer, checked and with float pairs."""
    if not isinstance(result, list):
        raise ValueError("result is not a list")
    out = []
    for series in result:
        metric = series.get("metric") if isinstance(series, dict) else None
        if not isinstance(metric, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metric.items()
        ):
            raise ValueError("a series without string labels")
        if "values" in series:
            out.append({"metric": metric, "values": [_pair(p) for p in series["values"]]})
        else:
            out.append({"metric": metric, "value": _pair(series["value"])})
    return out


def _checked_result(kind, result) -> list[dict]:
    """The series of an answer; a scalar or string answer (not asked for here) has none."""
    if kind in ("scalar", "string"):
        if not (isinstance(result, list) and len(result) == 2):
            raise ValueError("not a [time, value] pair")
        return []
    if kind not in (None, "vector", "matrix"):
        raise ValueError(f"unknown resultType {kind!r}")
    return _series_list(result)


def _labels_key(metric: dict) -> tuple:
    return tuple(sorted(metric.items()))


def duration_ms(seconds: float) -> str:
    """A PromQL duration literal in whole milliseconds."""
    return f"{int(round(seconds * 1000))}ms"


class PromClient:
    """Queries one Prometheus-API-compatible server."""

    def __init__(
        self,
        url: str,
        *,
        bearer_token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        ca_file: str | None = None,
        timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_range: float = DEFAULT_MAX_RANGE,
        http_config: HTTPClientConfig | None = None,
    ):
        """``http_config`` (an ``--http.config.file``) or the shorthands bearer_token,
        basic_auth and ca_file say how to reach the server."""
        self.url = url.rstrip("/")
        parts = urlsplit(self.url)
        if parts.password or parts.username:  # never echo credentials
            host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
            self.shown = urlunsplit(parts._replace(netloc=host))
        else:
            self.shown = self.url
        self._http = http_config or HTTPClientConfig.from_shorthands(
            bearer_token, basic_auth, ca_file
        )
        self._local = threading.local()
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_range = max_range
        self.log = QueryLog()

    # -- transport -------------------------------------------------------------------

    @property
    def session(self) -> requests.Session:
        """One HTTP session per thread: areas are analysed concurrently."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = build_session(self._http, self.url)
        return session

    def _get(self, path: str, params: dict, expr: str, kind: str) -> dict:
        params = dict(params, stats="all")
        last_error = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self.session.post(
                    f"{self.url}/api/v1/{path}", data=params, timeout=self.timeout
                )
            except requests.RequestException as err:
                last_error = f"cannot reach {self.shown}: {type(err).__name__}"
                continue
            if response.status_code >= 500 or response.status_code == 429:
                last_error = f"HTTP {response.status_code} from {self.shown}"
                continue
            try:
                body = response.json()
            except ValueError:
                raise PromError(
                    f"{self.shown} answered HTTP {response.status_code} without a "
                    f"Prometheus API body (is it a Prometheus server?)"
                ) from None
            malformed = PromError(f"malformed answer from {self.shown} (query: {expr})")
            if not isinstance(body, dict):
                raise malformed
            if body.get("status") != "success":
                raise PromError(
                    _one_line(
                        f"query failed: {body.get('errorType')}: "
                        f"{body.get('error')} (query: {expr})"
                    )
                )
            data = body.get("data")
            if not isinstance(data, dict):
                raise malformed
            try:
                data["result"] = _checked_result(data.get("resultType"), data.get("result"))
            except (KeyError, TypeError, ValueError, AttributeError):
                raise malformed from None
            stats = data.get("stats")
            if not isinstance(stats, dict):
                stats = {}
            timings = stats.get("timings")
            if not isinstance(timings, dict):
                timings = {}
            seconds = timings.get("execTotalTime")
            if not isinstance(seconds, (int, float)):
                seconds = None
            if seconds is None:
                seconds = response.elapsed.total_seconds()
            points = (
                sum(len(s.get("values", ())) or 1 for s in data.get("result") or ())
                if isinstance(data.get("result"), list)
                else 1
            )
            self.log.records.append(QueryRecord(expr, kind, float(seconds), points))
            return data
        raise PromError(
            _one_line(f"{last_error} (after {self.retries + 1} attempts; query: {expr})")
        )

    # -- queries ---------------------------------------------------------------------

    def instant(self, expr: str, at: float) -> list[dict]:
        """An instant query at ``at``: list of {metric, value|values}."""
        data = self._get("query", {"query": expr, "time": f"{at:.3f}"}, expr, "instant")
        return data["result"] if isinstance(data["result"], list) else []

    def range(self, expr: str, start: float, end: float, step: float) -> dict[tuple, list]:
        """A range query split to stay under MAX_POINTS per series and ``max_range`` per query.

        Returns {labels tuple: [(timestamp, value), ...]} merged over the pieces.
        """
        chunk = min(self.max_range, (MAX_POINTS - 1) * step)
        chunk = max(step, math.floor(chunk / step) * step)
        out: dict[tuple, list] = {}
        piece_start = start
        while piece_start <= end + 1e-9:
            piece_end = min(piece_start + chunk, end)
            data = self._get(
                "query_range",
                {
                    "query": expr,
                    "start": f"{piece_start:.3f}",
                    "end": f"{piece_end:.3f}",
                    "step": f"{step:g}",
                },
                expr,
                "range",
            )
            for series in data["result"]:
                out.setdefault(_labels_key(series["metric"]), []).extend(series.get("values", ()))
            piece_start = piece_end + step
        return out

    def over_period(self, template: str, start: float, end: float) -> list[tuple[dict, list]]:
        """Evaluate ``template`` (with ``{range}``) over [start, end) in pieces of ``max_range``.

        Each piece is evaluated at its end minus 1 ms with a range 1 ms shorter than the
        piece, so pieces never share a sample. Returns [(metric, [value per piece])].
        """
        out: dict[tuple, tuple[dict, list]] = {}
        piece_start = start
        while piece_start < end:
            piece_end = min(piece_start + self.max_range, end)
            expr = template.replace("{range}", duration_ms(piece_end - piece_start - 0.001))
            for series in self.instant(expr, piece_end - 0.001):
                key = _labels_key(series["metric"])
                if "value" in series:
                    out.setdefault(key, (series["metric"], []))[1].append(series["value"][1])
            piece_start = piece_end
        return list(out.values())

    def subquery_points(
        self, inner: str, start: float, end: float, step: float
    ) -> dict[tuple, list]:
        """Points of ``inner`` at multiples of ``step`` in [start, end), via ``[range:step]``.

        Only the points where ``inner`` has a value come back, so a filter like ``== 0``
        keeps the answer small. Split at ``max_range`` like any query.
        """
        out: dict[tuple, list] = {}
        piece_start = start
        while piece_start < end:
            piece_end = min(piece_start + self.max_range, end)
            expr = f"({inner})[{duration_ms(piece_end - piece_start - 0.001)}:{int(step)}s]"
            data = self._get(
                "query", {"query": expr, "time": f"{piece_end - 0.001:.3f}"}, expr, "subquery"
            )
            for series in data["result"] if isinstance(data["result"], list) else ():
                out.setdefault(_labels_key(series["metric"]), []).extend(series.get("values", ()))
            piece_start = piece_end
        return out

    # -- any API endpoint ------------------------------------------------------------

    def api(self, path: str, **params) -> Any:
        """GET /api/v1/<path> with ``params``: its ``data``, in whatever shape the endpoint has.

        Retried like the queries; PromError when the server cannot be reached or answers
        with an error status (its errorType and error in the message).
        """
        last_error = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self.session.get(
                    f"{self.url}/api/v1/{path}", params=params, timeout=self.timeout
                )
            except requests.RequestException as err:
                last_error = f"cannot reach {self.shown}: {type(err).__name__}"
                continue
            try:
                body = response.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):
                failure = (
                    f"{path}: {self.shown} answered HTTP {response.status_code} without "
                    f"a Prometheus API body"
                )
            elif body.get("status") != "success":
                failure = f"{path}: {body.get('errorType')}: {body.get('error')}"
            elif "data" not in body:
                failure = f"{path}: malformed answer from {self.shown} (no data)"
            else:
                return body["data"]
            if response.status_code >= 500 or response.status_code == 429:
                last_error = f"HTTP {response.status_code} from {self.shown}: {failure}"
                continue
            raise PromError(_one_line(failure))
        raise PromError(_one_line(f"{last_error} (after {self.retries + 1} attempts)"))

    def targets(self, state: str = "active") -> list[dict]:
        """The scrape targets (/api/v1/targets) in ``state``: active or dropped."""
        return self.api("targets", state=state)[f"{state}Targets"]

    def rules(self) -> list[dict]:
        """The loaded rule groups (/api/v1/rules)."""
        return self.api("rules")["groups"]

    def alerts(self) -> list[dict]:
        """The active alerts (/api/v1/alerts): labels, annotations, state, activeAt, value."""
        return self.api("alerts")["alerts"]

    def label_values(self, label: str, **params) -> list[str]:
        """The values of ``label`` (/api/v1/label/<label>/values), sorted; ``match[]`` etc. as
        params."""
        return sorted(self.api(f"label/{label}/values", **params))


def buckets(
    client: PromClient, template: str, start: float, end: float, width: float = 900.0
) -> dict[tuple, dict[float, float]]:
    """``template`` (with ``{w}``) over consecutive buckets [t, t+width) covering [start, end).

    Returns {labels: {bucket start: value}}. A range query evaluated at each bucket's
    end minus 1 ms with a window 1 ms shorter than the bucket counts every sample once.
    When the period is not a whole number of buckets, the last, shorter bucket is one
    more instant query with its own window, so no sample at the end is lost.
    """
    full = int((end - start + 1e-6) // width)
    out: dict[tuple, dict[float, float]] = {}
    if full:
        expr = template.replace("{w}", duration_ms(width - 0.001))
        first_eval = start + width - 0.001
        last_eval = start + full * width - 0.001
        raw = client.range(expr, first_eval, last_eval, width)
        out = {
            key: {round(t + 0.001 - width, 3): v for t, v in points} for key, points in raw.items()
        }
    rest_start = start + full * width
    if end - rest_start >= 0.002:
        expr = template.replace("{w}", duration_ms(end - rest_start - 0.001))
        for series in client.instant(expr, end - 0.001):
            out.setdefault(_labels_key(series["metric"]), {})[round(rest_start, 3)] = float(
                series["value"][1]
            )
    return out


def matrix(client: PromClient, selector: str, start: float, end: float) -> dict[tuple, list]:
    """Raw samples of ``selector`` in [start, end), pieces split at ``max_range``."""
    out: dict[tuple, list] = {}
    piece_start = start
    while piece_start < end:
        piece_end = min(piece_start + client.max_range, end)
        expr = f"{selector}[{duration_ms(piece_end - piece_start - 0.001)}]"
        data = client._get(
            "query", {"query": expr, "time": f"{piece_end - 0.001:.3f}"}, expr, "instant"
        )
        for series in data["result"] if isinstance(data["result"], list) else ():
            out.setdefault(_labels_key(series["metric"]), []).extend(
                (float(t), float(v)) for t, v in series["values"]
            )
        piece_start = piece_end
    return out
