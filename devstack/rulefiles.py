"""Copies of the project's rule files with `for` durations shortened for tests."""

from __future__ import annotations

from pathlib import Path

import yaml

from . import REPO_ROOT


def shortened_rules(dest: Path, pending: str = "5s", names: tuple[str, ...] = ()) -> list[Path]:
    """Write every rules/*.yml (or only ``names``) into ``dest`` with each alert's
    ``for`` set to ``pending``; everything else is kept as it is."""
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for path in sorted((REPO_ROOT / "rules").glob("*.yml")):
        if names and path.name not in names:
            continue
        doc = yaml.safe_load(path.read_text())
        for group in doc.get("groups", []):
            for rule in group.get("rules", []):
                if "alert" in rule and "for" in rule:
                    rule["for"] = pending
        target = dest / path.name
        target.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
        out.append(target)
    return out
