"""aftercare-silences: the configured maintenance windows as Alertmanager silences.

Each window of the coming days becomes one silence matching the system's alerts
(``system="<name>"``), so the pages and the report agree on what was planned.  A silence
already there with the same matcher, times and comment is not made twice.
Exit codes: 0 ok, 2 bad arguments or config, 3 Alertmanager unreachable or refusing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time

import requests

from exporters.config import ConfigError, load_config
from exporters.version import version_line

from .analysis.contract import maintenance_windows

CREATED_BY = "aftercare-silences"


def _iso(ts: float) -> str:
    return (
        dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def planned_silences(config, systems: list[str] | None, now: float, days: float) -> list[dict]:
    """The silences for every window touching [now, now + days) (plain data)."""
    out = []
    for system in config.systems:
        if systems and system.name not in systems:
            continue
        for w in maintenance_windows(system, now, now + days * 86400):
            out.append(
                {
                    "matchers": [
                        {"name": "system", "value": system.name, "isRegex": False, "isEqual": True}
                    ],
                    "startsAt": _iso(w["from"]),
                    "endsAt": _iso(w["to"]),
                    "createdBy": CREATED_BY,
                    "comment": f"planned maintenance of {system.name}: {w['reason']}",
                }
            )
    return out


def _same(a: dict, b: dict) -> bool:
    def key(s):
        matchers = tuple(
            sorted(
                (m["name"], m["value"], m["isRegex"], m.get("isEqual", True)) for m in s["matchers"]
            )
        )
        ends = dt.datetime.fromisoformat(s["endsAt"].replace("Z", "+00:00")).timestamp()
        return matchers, s["comment"], round(ends)

    return key(a) == key(b)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="aftercare-silences", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=version_line("aftercare-silences"))
    p.add_argument(
        "--config.file",
        dest="config_file",
        default="aftercare.yml",
        metavar="FILE",
        help="the aftercare.yml with the maintenance windows (default: %(default)s)",
    )
    p.add_argument(
        "--alertmanager",
        required=True,
        metavar="URL",
        help="the Alertmanager to make the silences in (required)",
    )
    p.add_argument(
        "--days",
        type=float,
        default=7.0,
        help="windows starting within this many days (default: %(default)g)",
    )
    p.add_argument(
        "--system",
        action="append",
        metavar="NAME",
        help="only this system (repeatable; default: every system)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the silences, make none")
    args = p.parse_args(argv)
    try:
        config = load_config(args.config_file)
    except ConfigError as err:
        print(f"aftercare-silences: invalid config: {err}", file=sys.stderr)
        return 2
    unknown = sorted(set(args.system or ()) - {s.name for s in config.systems})
    if unknown or args.days <= 0:
        print(
            f"aftercare-silences: --system {', '.join(unknown)}: not in {config.file}"
            if unknown
            else "aftercare-silences: --days must be positive",
            file=sys.stderr,
        )
        return 2
    wanted = planned_silences(config, args.system, time.time(), args.days)
    base = args.alertmanager.rstrip("/")
    try:
        existing = [
            s
            for s in requests.get(f"{base}/api/v2/silences", timeout=10).json()
            if s["status"]["state"] != "expired"
        ]
        made = 0
        for silence in wanted:
            if any(_same(silence, old) for old in existing):
                continue
            print(f"silence {silence['comment']} {silence['startsAt']} .. {silence['endsAt']}")
            if not args.dry_run:
                response = requests.post(f"{base}/api/v2/silences", json=silence, timeout=10)
                if response.status_code != 200:
                    print(
                        f"aftercare-silences: Alertmanager refused a silence: HTTP "
                        f"{response.status_code}: {response.text.strip()[:200]}",
                        file=sys.stderr,
                    )
                    return 3
                made += 1
    except (requests.RequestException, ValueError, KeyError) as err:
        print(f"aftercare-silences: Alertmanager {base}: {type(err).__name__}", file=sys.stderr)
        return 3
    print(f"{made} silences made, {len(wanted) - made} already there or not made")
    return 0


if __name__ == "__main__":
    sys.exit(main())
