"""HTTP traffic from access logs: requests per day, peak hour, 5xx ratio, response-time quantiles.

Requests and the response-time histogram are counted per hour exactly like log
lines (last counter value per hour, differenced: no extrapolation). Quantiles are
interpolated inside the histogram's buckets as PromQL's ``histogram_quantile`` does.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from zoneinfo import ZoneInfo

from .common import Context, counter_hours, per_day

REQUESTS = "aftercare_http_requests_total"
DURATION_BUCKETS = "aftercare_http_request_duration_seconds_bucket"
ERROR_CLASS = "5xx"


def fetch(ctx: Context) -> dict:
    requests = counter_hours(ctx, REQUESTS, "system, source, code_class")
    durations = counter_hours(ctx, DURATION_BUCKETS, "system, source, le")
    return {"requests": requests, "durations": durations}


def histogram_quantile(q: float, cumulative: dict[float, float]) -> float | None:
    """The q-quantile from cumulative bucket counts {upper bound: count}, +Inf included."""
    bounds = sorted(cumulative)
    if not bounds or bounds[-1] != math.inf:
        return None
    total = cumulative[math.inf]
    if total <= 0:
        return None
    rank = q * total
    previous_bound, previous_count = 0.0, 0.0
    for bound in bounds:
        count = cumulative[bound]
        if count >= rank:
            if bound == math.inf:
                return previous_bound
            inside = count - previous_count
            if inside <= 0:
                return bound
            return previous_bound + (bound - previous_bound) * (rank - previous_count) / inside
        previous_bound, previous_count = bound, count
    return previous_bound


def compute_source(
    by_class: dict[str, dict[float, float]],
    by_le: dict[float, dict[float, float]],
    period,
    sla_seconds: float | None,
) -> dict:
    """Figures for one access-log source from its hourly increments (plain data)."""
    hours: dict[float, float] = defaultdict(float)
    for points in by_class.values():
        for t, n in points.items():
            hours[t] += n
    if not by_class:
        return {
            "requests": None,
            "requests_per_day": None,
            "error_5xx_ratio": None,
            "by_code_class": {},
            "peak_hour": None,
            "peak_hour_requests": None,
            "busiest_hour_of_day": None,
            "p50_seconds": None,
            "p95_seconds": None,
            "timed_requests": None,
            "slow_request_ratio": None,
            "daily": [],
        }
    total = sum(hours.values())
    errors = per_day(period, by_class.get(ERROR_CLASS, {}))
    requests_daily = per_day(period, hours)
    days = period.days()
    peak_t = max(sorted(hours), key=lambda t: hours[t]) if hours else None
    zone = ZoneInfo(period.tz)
    by_hour_of_day: dict[int, float] = defaultdict(float)
    for t, n in hours.items():
        by_hour_of_day[dt.datetime.fromtimestamp(t, zone).hour] += n
    cumulative = {bound: sum(points.values()) for bound, points in by_le.items()}
    timed = cumulative.get(math.inf, 0.0)
    slow_ratio = None
    if sla_seconds is not None and timed > 0 and sla_seconds in cumulative:
        slow_ratio = 1 - cumulative[sla_seconds] / timed
    classes = {cls: round(sum(points.values())) for cls, points in sorted(by_class.items())}
    return {
        "requests": round(total),
        "requests_per_day": total / len(days) if days else None,
        "error_5xx_ratio": classes.get(ERROR_CLASS, 0) / total if total else None,
        "by_code_class": classes,
        "peak_hour": dt.datetime.fromtimestamp(peak_t, zone).isoformat(timespec="seconds")
        if peak_t is not None and hours[peak_t] > 0
        else None,
        "peak_hour_requests": round(hours[peak_t]) if peak_t is not None else None,
        "busiest_hour_of_day": max(sorted(by_hour_of_day), key=lambda h: by_hour_of_day[h])
        if total
        else None,
        "p50_seconds": histogram_quantile(0.5, cumulative),
        "p95_seconds": histogram_quantile(0.95, cumulative),
        "timed_requests": round(timed),
        "slow_request_ratio": slow_ratio,
        "daily": [
            {
                "day": d.isoformat(),
                "requests": round(requests_daily.get(d, 0.0)),
                "errors_5xx": round(errors.get(d, 0.0)),
            }
            for d in days
        ],
    }


def _bound(le: str) -> float:
    return math.inf if le == "+Inf" else float(le)


def analyse(ctx: Context) -> dict[str, list[dict]]:
    """{system: [figures per access-log source (format: combined), in config order]}."""
    data = fetch(ctx)
    classes: dict = defaultdict(dict)
    for key, points in data["requests"].items():
        labels = dict(key)
        classes[(labels.get("system", ""), labels.get("source", ""))][
            labels.get("code_class", "")
        ] = points
    les: dict = defaultdict(dict)
    for key, points in data["durations"].items():
        labels = dict(key)
        try:
            bound = _bound(labels.get("le", ""))
        except ValueError:
            continue
        les[(labels.get("system", ""), labels.get("source", ""))][bound] = points
    out = {}
    for system in ctx.systems:
        out[system.name] = [
            {
                "name": src.source,
                **compute_source(
                    classes.get((system.name, src.source), {}),
                    les.get((system.name, src.source), {}),
                    ctx.period,
                    system.sla.response_time,
                ),
            }
            for src in system.logs
            if src.format == "combined"
        ]
    return out
