"""--notes FILE: the engineer's own words per system (findings, work done, advice)."""

from __future__ import annotations

from exporters.config import ConfigError
from exporters.yamlstrict import read_yaml

KEYS = ("findings", "work_done", "advice")


def _texts(value, where: str) -> list[str]:
    if isinstance(value, str) and value.strip():
        return [value.strip()]
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
        return [v.strip() for v in value]
    raise ValueError(f"{where}: expected a text or a list of texts")


def load_notes(path: str, systems: list[str]) -> dict[str, dict[str, list[str]]]:
    """{system: {key: [paragraph]}} from the notes file; any mistake is a ValueError naming it."""
    try:
        raw = read_yaml(path, "notes file")
    except ConfigError as err:
        raise ValueError(f"--notes {path}: {err.message}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError(f"--notes {path}: expected a mapping of system name to notes")
    out = {}
    for name, notes in raw.items():
        if name not in systems:
            raise ValueError(
                f"--notes {path}: {name}: not a system of the report (known: {', '.join(systems)})"
            )
        if not isinstance(notes, dict):
            raise ValueError(f"--notes {path}: {name}: expected a mapping with {', '.join(KEYS)}")
        for key in notes:
            if key not in KEYS:
                raise ValueError(
                    f"--notes {path}: {name}.{key}: unknown key; expected one of {', '.join(KEYS)}"
                )
        out[name] = {
            key: _texts(notes[key], f"--notes {path}: {name}.{key}") for key in KEYS if key in notes
        }
    return out
