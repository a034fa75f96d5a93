"""Flatten an in-process scrape into {(metric, *other label values): value} for one target."""

from __future__ import annotations


def flatten(families, label: str, system: str, target: str) -> dict:
    """Samples of one target: keyed by name and the labels after ``system`` and
    ``label``; collector successes as ("collector", name); other scrape meta left out."""
    out = {}
    for family in families:
        for s in family.samples:
            labels = dict(s.labels)
            if s.name == "aftercare_scrape_collector_success":
                out[("collector", labels["collector"])] = s.value
                continue
            if s.name.startswith("aftercare_scrape"):
                continue
            assert labels.pop("system") == system and labels.pop(label) == target, s
            out[(s.name, *labels.values())] = s.value
    return out
