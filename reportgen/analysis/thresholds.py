"""The alert thresholds, read from the ``aftercare:threshold:*`` recording rules in rules/.

The checklist judges with the same numbers as the alerts; they are never copied here.
A threshold rule is a constant: ``vector(<arithmetic of numbers>)``.
"""

from __future__ import annotations

import ast
import operator
import os
import sys
from functools import lru_cache
from pathlib import Path

import yaml


def _rules_dir() -> Path:
    """rules/ of the checkout, else the copy the wheel installs under <prefix>/share/aftercare;
    AFTERCARE_RULES_DIR names another (the rules Prometheus loads)."""
    candidates = (
        [Path(os.environ["AFTERCARE_RULES_DIR"])] if os.environ.get("AFTERCARE_RULES_DIR") else []
    )
    candidates += [
        Path(__file__).resolve().parents[2] / "rules",
        Path(sys.prefix) / "share" / "aftercare" / "rules",
    ]
    return next((c for c in candidates if c.is_dir()), candidates[-1])


RULES_DIR = _rules_dir()
PREFIX = "aftercare:threshold:"
_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def _constant(text: str) -> float | None:
    """The number in ``vector(4 * 86400)``; None for anything that is not such a constant."""
    text = text.strip()
    if not (text.startswith("vector(") and text.endswith(")")):
        return None

    def value(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](value(node.left), value(node.right))
        raise ValueError(ast.dump(node))

    try:
        return value(ast.parse(text[len("vector(") : -1], mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError):
        return None


@lru_cache(maxsize=2)
def thresholds(rules_dir: str = str(RULES_DIR)) -> dict[str, float]:
    """{name without the prefix: value} of every constant threshold rule."""
    out: dict[str, float] = {}
    for path in sorted(Path(rules_dir).glob("*.rules.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for group in doc.get("groups") or ():
            for rule in group.get("rules") or ():
                name = rule.get("record", "")
                if name.startswith(PREFIX):
                    number = _constant(str(rule.get("expr", "")))
                    if number is not None:
                        out[name[len(PREFIX) :]] = number
    return out
