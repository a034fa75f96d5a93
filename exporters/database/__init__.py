"""Area 1, the database: space, performance and exception records.

One collector per concern, each a module with ``METRICS`` and a function per
engine; ``COLLECTORS`` below is the one table that registers them.
"""
from __future__ import annotations

from typing import Iterable

from ..config import Config
from ..runtime import Area, Target
from . import size
from .postgresql import PostgresTarget, classify_pg_error

# collector name -> module; the name is the `collector` label of
# aftercare_scrape_collector_success
COLLECTORS = {
    "database_size": size,
}


class DatabaseArea(Area):
    name = "database"
    target_label = "database"
    up_metric = "aftercare_database_up"
    up_help = ("1 if the database answered a query at this scrape within its timeout, "
               "0 if it was unreachable, refused the login or timed out.")
    reasons = ("dns", "connect", "timeout", "auth", "error")
    metrics = tuple(m for module in COLLECTORS.values() for m in module.METRICS)

    def build_targets(self, config: Config) -> Iterable[Target]:
        for system in config.systems:
            for db in system.databases:
                if db.type == "postgresql":
                    yield PostgresTarget(system.name, db, COLLECTORS)

    def classify(self, err: BaseException) -> str:
        return classify_pg_error(err)
