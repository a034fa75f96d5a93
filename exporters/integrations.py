"""Area 4, integration connectivity: can the system still reach every system it integrates with.

Each configured link is one target checked with a real protocol handshake
by one prober of :mod:`exporters.probes`.
"""

from __future__ import annotations

from collections.abc import Iterable

from .config import Config, Integration
from .metrics import Metric, Sink, gauge, metrics_in
from .probes import REASONS, classify_error, run_probe
from .runtime import Area, Target

LATENCY_SECONDS = gauge(
    "aftercare_integration_latency_seconds",
    "Seconds the link's check took: connect, handshake and login, and the protocol's "
    "smallest round trip (SELECT 1, PING, ...); only when it succeeded.",
)


def _no_details(metric: Metric, value: float, *labels: str) -> None:
    """Links expose up, latency and reason only; protocol details are the services area's
    (their labels are checked all the same)."""
    metric.check(labels)


class IntegrationTarget(Target):
    def __init__(self, system: str, link: Integration):
        super().__init__(system, link.name, link.timeout)
        self.kind = link.kind
        self.check = getattr(link, self.kind)

    def collect(self, sink: Sink, timeout: float) -> None:
        run_probe(self.kind, self.check, sink, timeout, LATENCY_SECONDS, emit=_no_details)


class IntegrationsArea(Area):
    name = "integrations"
    target_label = "integration"
    up_metric = "aftercare_integration_up"
    up_help = (
        "1 if the link's protocol handshake (TCP, HTTP, PostgreSQL, MySQL, Redis, AMQP, "
        "MQTT, DNS) succeeded within its timeout at this scrape, 0 otherwise."
    )
    reasons = REASONS
    metrics = metrics_in(globals())

    def build_targets(self, config: Config) -> Iterable[Target]:
        for system in config.systems:
            for link in system.integrations:
                yield IntegrationTarget(system.name, link)

    def classify(self, err: BaseException) -> str:
        return classify_error(err)
