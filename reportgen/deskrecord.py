"""The monthly report's "service record": the desk's handling of the period, read from the
desk's API (``--desk URL`` with ``--desk.token-file``) or its database (``--desk.database``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests


class DeskError(RuntimeError):
    """The desk could not be read; the message is one line."""


def from_api(
    url: str, token: str, start: dt.datetime, end: dt.datetime, timeout: float = 30.0
) -> dict[str, Any]:
    try:
        response = requests.get(
            f"{url.rstrip('/')}/api/service-record",
            timeout=timeout,
            params={"from": start.isoformat(), "to": end.isoformat()},
            headers={"Authorization": f"Bearer {token}"},
        )
    except requests.RequestException as err:
        raise DeskError(f"cannot reach the desk at {url}: {type(err).__name__}") from None
    if response.status_code != 200:
        raise DeskError(f"the desk at {url} answered HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise DeskError(f"the desk at {url} did not answer JSON") from None


def from_database(dsn: str, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """Read the record straight from the desk's database (needs the [desk] extra)."""
    try:
        from desk.db import make_engine, sessions
        from desk.models import Incident
        from desk.record import service_record
    except ImportError:
        raise DeskError("--desk.database needs the 'desk' extra") from None
    engine = make_engine(dsn)
    try:
        with sessions(engine)() as db:
            return service_record(db, Incident.id.isnot(None), start, end)
    except Exception as err:
        raise DeskError(f"cannot read the desk database: {type(err).__name__}") from None
    finally:
        engine.dispose()
