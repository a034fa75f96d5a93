"""One probe mechanism for the services and integrations exporters.

A prober is a :data:`ProbeFn`: ``probe(check, ctx)`` performs one check of
its protocol against the check's config, writes detail samples through
``ctx.emit`` and raises :class:`ProbeFailed` (or lets an OSError escape)
when the checked thing is down.  The handler, :func:`run_probe`, not the
prober, owns the verdict and the timing: it sets up/down with a bounded
reason and emits the check's duration.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..metrics import Metric, Sink, safe_error
from .amqp import probe_amqp
from .appserver import probe_status
from .core import REASONS, Emit, ProbeContext, ProbeFailed, classify_error
from .dns import probe_dns
from .http import probe_http
from .mqtt import probe_mqtt
from .mysql import probe_mysql
from .postgresql import probe_postgresql
from .process import probe_process
from .redis import probe_redis
from .tcp import probe_tcp

ProbeFn = Callable[[Any, ProbeContext], None]

# the one table: protocol -> prober
PROBERS: dict[str, ProbeFn] = {
    "http": probe_http,
    "tcp": probe_tcp,
    "process": probe_process,
    "status": probe_status,
    "postgresql": probe_postgresql,
    "mysql": probe_mysql,
    "redis": probe_redis,
    "amqp": probe_amqp,
    "mqtt": probe_mqtt,
    "dns": probe_dns,
}

__all__ = ["PROBERS", "REASONS", "ProbeFn", "ProbeContext", "ProbeFailed", "run_probe"]


def run_probe(
    kind: str,
    check: Any,
    sink: Sink,
    timeout: float,
    duration_metric: Metric,
    emit: Emit | None = None,
) -> None:
    """Run one check under ``timeout``: up or down with a reason in ``sink``,
    and ``duration_metric`` (seconds) when it succeeded."""
    start = time.monotonic()
    # end a little before the runtime stops waiting, so the prober's own verdict lands
    margin = min(0.1, timeout * 0.05)
    ctx = ProbeContext(deadline=start + timeout - margin, emit=emit or sink.add)
    try:
        PROBERS[kind](check, ctx)
    except Exception as err:  # every failure of the checked thing is data: a reason
        sink.set_up(False, classify_error(err))
        sink.error = str(err) if isinstance(err, ProbeFailed) else safe_error(err)
        return
    sink.set_up(True)
    sink.add(duration_metric, time.monotonic() - start)
