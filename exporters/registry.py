"""The one table: exporter name -> the Area classes it serves.

An exporter may serve several areas (the services exporter serves the
services and their log sources); ``all`` serves every area once.  Classes
are named as "module:Class" and imported only for the exporter being
served, so the services exporter never loads a database driver.
"""
from __future__ import annotations

import importlib

from .runtime import Area

EXPORTERS: dict[str, tuple[str, ...]] = {
    "database": ("exporters.database:DatabaseArea", "exporters.logs.areas:DatabaseLogArea"),
    "services": ("exporters.services:ServicesArea", "exporters.logs.areas:LogSourcesArea"),
    "integrations": ("exporters.integrations:IntegrationsArea",),
    "exchange": ("exporters.exchange:ExchangeArea", "exporters.logs.areas:ExchangeLogArea"),
    "backups": ("exporters.backups:BackupsArea",),
}

# default --web.listen-address port per exporter
DEFAULT_PORTS = {"all": 9850, "database": 9851, "services": 9852, "integrations": 9853,
                 "exchange": 9854, "backups": 9855}


def _load(ref: str) -> type[Area]:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def areas_for(exporter: str) -> list[type[Area]]:
    refs = [r for refs in EXPORTERS.values() for r in refs] if exporter == "all" else EXPORTERS[exporter]
    return [_load(ref) for ref in dict.fromkeys(refs)]
