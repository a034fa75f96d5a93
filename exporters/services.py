"""Area 2, the application: is each service reachable and running, and how fast it answers.

Each configured service is one target checked by one prober of
:mod:`exporters.probes` (http, tcp, process).
"""

from __future__ import annotations

from collections.abc import Iterable

from .config import Config, Service
from .metrics import Sink, gauge, metrics_in
from .probes import REASONS, appserver, classify_error, http, process, run_probe, tls
from .runtime import Area, Target

RESPONSE_SECONDS = gauge(
    "aftercare_service_response_seconds",
    "Seconds the service's check took (whole HTTP exchange with redirects, TCP "
    "connect and answer, process lookup); only when the check passed.",
)


class ServiceTarget(Target):
    def __init__(self, system: str, service: Service):
        super().__init__(system, service.name, service.timeout)
        self.kind = service.kind
        self.check = getattr(service, self.kind)

    def collect(self, sink: Sink, timeout: float) -> None:
        run_probe(self.kind, self.check, sink, timeout, RESPONSE_SECONDS)


class ServicesArea(Area):
    name = "services"
    target_label = "service"
    up_metric = "aftercare_service_up"
    up_help = (
        "1 if the service passed its check (HTTP status and body, TCP answer, process "
        "running) within its timeout at this scrape, 0 otherwise."
    )
    reasons = REASONS
    metrics = metrics_in(globals(), http, tls, process, appserver)

    def build_targets(self, config: Config) -> Iterable[Target]:
        for system in config.systems:
            for service in system.services:
                yield ServiceTarget(system.name, service)

    def classify(self, err: BaseException) -> str:
        return classify_error(err)
