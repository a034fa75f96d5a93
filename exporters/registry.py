"""The one table: area name -> the Area class that serves it."""
from __future__ import annotations

from .database import DatabaseArea
from .runtime import Area

AREAS: dict[str, type[Area]] = {
    "database": DatabaseArea,
}

# default --web.listen-address port per area ("all" serves every area at once)
DEFAULT_PORTS = {"all": 9850, "database": 9851, "services": 9852, "integrations": 9853,
                 "exchange": 9854, "backups": 9855}
