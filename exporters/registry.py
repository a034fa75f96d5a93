"""The one table: exporter name -> the Area classes it serves.

An exporter may serve several areas (the services exporter serves the
services and their log sources); ``all`` serves every area once.
"""
from __future__ import annotations

from .backups import BackupsArea
from .database import DatabaseArea
from .exchange import ExchangeArea
from .integrations import IntegrationsArea
from .logs.areas import DatabaseLogArea, ExchangeLogArea, LogSourcesArea
from .runtime import Area
from .services import ServicesArea

EXPORTERS: dict[str, tuple[type[Area], ...]] = {
    "database": (DatabaseArea, DatabaseLogArea),
    "exchange": (ExchangeArea, ExchangeLogArea),
    "services": (ServicesArea, LogSourcesArea),
    "integrations": (IntegrationsArea,),
    "backups": (BackupsArea,),
}

# default --web.listen-address port per exporter
DEFAULT_PORTS = {"all": 9850, "database": 9851, "services": 9852, "integrations": 9853,
                 "exchange": 9854, "backups": 9855}


def areas_for(exporter: str) -> list[type[Area]]:
    if exporter == "all":
        return list(dict.fromkeys(cls for classes in EXPORTERS.values() for cls in classes))
    return list(EXPORTERS[exporter])
