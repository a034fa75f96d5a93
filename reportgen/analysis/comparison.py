"""Month over month: the headline figures of every area, this period against the previous.

The previous period is analysed with the same functions (``Context.lean``: outages,
slow periods, weekly quantiles and tables are not looked for), so both sides of a
comparison come from the same method. A figure is compared only where the previous
period has a value; an area is listed only when at least one of its figures is.
"""

from __future__ import annotations

from exporters.areas import GRADE_KEYS

# area -> [(section path in the system document, figures: field or (field, name shown))]
HEADLINES: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "availability": [
        (("services",), ("availability_ratio", "downtime_seconds")),
        (("integrations",), ("availability_ratio", "downtime_seconds")),
        (("databases",), ("availability_ratio",)),
    ],
    "stability": [],  # counts, from the system's stability summary (below)
    "performance": [
        (("performance", "services"), ("p50_seconds", "p95_seconds")),
        (("performance", "traffic"), ("requests", "error_5xx_ratio", "p95_seconds")),
        (("performance", "databases"), ("commits_per_second", "deadlocks", "cache_hit_ratio")),
    ],
    "capacity": [
        (
            ("databases",),
            ("size_bytes_end", "growth_bytes", "filesystem_used_ratio_end", "peak_connections"),
        )
    ],
    GRADE_KEYS["backups"]: [
        (("backups",), ("days_with_verified_success", "max_age_seconds")),
        (("wal_archiving",), (("failures", "wal_archive_failures"),)),  # type: ignore[list-item]
    ],
    "exchange": [(("exchange",), ("runs", "failures", "missed_deadlines"))],
    "logs": [(("logs",), ())],  # lines by level, below
}


def _section(doc: dict, path: tuple[str, ...]) -> list:
    node = doc
    for key in path:
        node = node.get(key, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, list) else []


def headlines(doc: dict) -> dict[str, dict[tuple[str, str], float | None]]:
    """{area: {(target, figure): value}} of one analysed system document."""
    out: dict[str, dict] = {}
    for area, sections in HEADLINES.items():
        figures: dict = {}
        for path, names in sections:
            for row in _section(doc, path):
                for name in names:
                    field, shown = name if isinstance(name, tuple) else (name, name)
                    figures[(row["name"], shown)] = row.get(field)
                if area == "logs":
                    for level, lines in (row.get("lines") or {}).items():
                        figures[(row["name"], f"{level}_lines")] = lines
        if area == "stability":
            stability = doc["stability"]
            figures[("", "incidents")] = stability["incidents"]
            for severity, count in stability["by_severity"].items():
                figures[("", f"incidents_{severity}")] = count
            figures[("", "mean_time_to_resolve_seconds")] = stability[
                "mean_time_to_resolve_seconds"
            ]
        out[area] = figures
    return out


def compare(current: dict, previous: dict, previous_label: str) -> dict | None:
    """{period, areas: {area: [{target, figure, previous, current, change}]}} or None."""
    now, before = headlines(current), headlines(previous)
    areas = {}
    for area in HEADLINES:
        rows = []
        keys = list(before[area]) + [k for k in now[area] if k not in before[area]]
        for target, figure in keys:
            old = before[area].get((target, figure))
            if old is None:
                continue
            new = now[area].get((target, figure))
            if new is None and figure.startswith("incidents_"):
                new = 0
            rows.append(
                {
                    "target": target,
                    "figure": figure,
                    "previous": old,
                    "current": new,
                    "change": (new - old) if new is not None else None,
                }
            )
        if area == "stability" and not previous["has_data"] and not previous["alerts"]:
            rows = []  # no data at all last period: "0 incidents" would be no evidence
        if rows:
            areas[area] = rows
    if not areas:
        return None
    return {"period": previous_label, "coverage_ratio": previous["coverage_ratio"], "areas": areas}
