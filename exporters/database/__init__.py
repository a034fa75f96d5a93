"""Area 1, the database: space, performance and exception records.

One collector per concern, each a module declaring the functions it runs
(``RUNS``: a function per engine, or ``local``) and its metrics, checked when
this package is imported (collector.py); ``COLLECTORS`` below is the one
table that registers them.  The order is the order they run in: ``tables``
last, because a visit to another database closes the target's connection.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..config import Config
from ..drivers import mysql as mysql_driver
from ..drivers import postgresql as postgresql_driver
from ..runtime import Area, Target
from . import (
    archiver,
    cache,
    checkpoints,
    connections,
    exceptions,
    filesystem,
    locks,
    longrunning,
    replication,
    size,
    statements,
    tables,
    tablespaces,
    transactions,
    uptime,
)
from .collector import register_all
from .mysql import MysqlTarget
from .postgresql import PostgresTarget

# collector name -> module; the name is the `collector` label of
# aftercare_scrape_collector_success
COLLECTORS = register_all(
    {
        "database_size": size,
        "tablespaces": tablespaces,
        "filesystem": filesystem,
        "connections": connections,
        "transactions": transactions,
        "cache": cache,
        "locks": locks,
        "long_running": longrunning,
        "replication": replication,
        "checkpoints": checkpoints,
        "uptime": uptime,
        "statements": statements,
        "exceptions": exceptions,
        "wal_archiving": archiver,
        "tables": tables,
    }
)

TARGETS = {"postgresql": PostgresTarget, "mysql": MysqlTarget}


class DatabaseArea(Area):
    name = "database"
    target_label = "database"
    up_metric = "aftercare_database_up"
    up_help = (
        "1 if the database answered a query at this scrape within its timeout, "
        "0 if it was unreachable, refused the login or timed out."
    )
    reasons = ("dns", "connect", "timeout", "auth", "error")
    metrics = tuple(m for collector in COLLECTORS.values() for m in collector.metrics)

    def build_targets(self, config: Config) -> Iterable[Target]:
        for system in config.systems:
            for db in system.databases:
                yield TARGETS[db.type](system.name, db, COLLECTORS, config.defaults.state_dir)

    def classify(self, err: BaseException) -> str:
        driver = mysql_driver if mysql_driver.is_driver_error(err) else postgresql_driver
        reason = driver.classify(err)
        return "connect" if reason == "tls" else reason  # no tls reason here
