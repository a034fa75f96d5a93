"""Exporter name -> the Area classes it serves, derived from the area table (exporters/areas.py).

An exporter may serve several areas (the services exporter serves the
services and their log sources); ``all`` serves every area once.  Classes
are named as "module:Class" and imported only for the exporter being
served, so the services exporter never loads a database driver.
"""

from __future__ import annotations

import importlib

from .areas import ALL_PORT, AREAS, exporters
from .runtime import Area

EXPORTERS: dict[str, tuple[str, ...]] = exporters()

# default --web.listen-address port per exporter
DEFAULT_PORTS: dict[str, int] = {
    "all": ALL_PORT,
    **{a.exporter: a.port for a in AREAS if a.exporter and a.port is not None},
}


def _load(ref: str) -> type[Area]:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def areas_for(exporter: str) -> list[type[Area]]:
    if exporter == "all":
        refs = [r for refs in EXPORTERS.values() for r in refs]
    else:
        refs = list(EXPORTERS[exporter])
    return [_load(ref) for ref in dict.fromkeys(refs)]
