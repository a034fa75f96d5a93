"""Incidents as the customer counts them: alerts folded under their cause, slow periods added.

An alert that the shipped Alertmanager's ``inhibit_rules`` would mute while another alert
fires (``alertmanager/alertmanager.yml`` is read, never restated here) is not an incident
of its own: it is listed under the causing incident's ``folded``.  A slow period of a
service that no alert covers is an incident too, since the contract counts it as a fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from .common import MERGE_TOLERANCE

ALERTMANAGER_FILE = Path(__file__).resolve().parents[2] / "alertmanager" / "alertmanager.yml"
SLOW_ALERT = "AftercareServiceSlow"
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*')


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str

    def matches(self, labels: dict) -> bool:
        got = labels.get(self.name, "")
        if self.op in ("=", "!="):
            return (got == self.value) == (self.op == "=")
        return bool(re.fullmatch(self.value, got)) == (self.op == "=~")


@dataclass(frozen=True)
class InhibitRule:
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]

    def mutes(self, cause: dict, alert: dict) -> bool:
        """Alertmanager's test: the cause matches the source, the alert the target, and
        every ``equal`` label has the same value on both (missing on both is equal)."""
        return (
            all(m.matches(cause) for m in self.source)
            and all(m.matches(alert) for m in self.target)
            and all(cause.get(n, "") == alert.get(n, "") for n in self.equal)
        )


def _matchers(rule: dict, kind: str) -> tuple[Matcher, ...]:
    out = []
    for text in rule.get(f"{kind}_matchers", ()):
        match = _MATCHER.fullmatch(text)
        if match is None:
            raise ValueError(f"cannot read the inhibit rule matcher {text!r}")
        out.append(Matcher(*match.groups()))
    out += [Matcher(k, "=", str(v)) for k, v in (rule.get(f"{kind}_match") or {}).items()]
    out += [Matcher(k, "=~", str(v)) for k, v in (rule.get(f"{kind}_match_re") or {}).items()]
    return tuple(out)


@lru_cache(maxsize=4)
def inhibit_rules(path: str = str(ALERTMANAGER_FILE)) -> tuple[InhibitRule, ...]:
    """The inhibit rules of an Alertmanager config file (none when it is not there)."""
    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh) or {}
    except OSError:
        return ()
    return tuple(
        InhibitRule(_matchers(r, "source"), _matchers(r, "target"), tuple(r.get("equal", ())))
        for r in doc.get("inhibit_rules") or ()
    )


def full_labels(alert: dict) -> dict:
    return {
        **alert["labels"],
        "alertname": alert["alertname"],
        "severity": alert["severity"],
        **({"system": alert["system"]} if alert.get("system") else {}),
    }


def _cause(alert: dict, others: list[dict], rules, tolerance: float) -> int | None:
    """The index of the earliest alert in ``others`` whose firing mutes ``alert`` as it starts."""
    labels = full_labels(alert)
    best = None
    for i, other in enumerate(others):
        if other is alert:
            continue
        if not other["started"] - tolerance <= alert["started"] <= other["ended"] + tolerance:
            continue
        if any(rule.mutes(full_labels(other), labels) for rule in rules):
            if best is None or other["started"] < others[best]["started"]:
                best = i
    return best


def fold(alerts: list[dict], rules=None, tolerance: float = MERGE_TOLERANCE) -> list[dict]:
    """Incidents: each alert not muted by another, with the alerts it explains in ``folded``."""
    rules = inhibit_rules() if rules is None else rules
    parent = {i: _cause(a, alerts, rules, tolerance) for i, a in enumerate(alerts)}

    def root(i: int) -> int:
        seen = {i}
        while (up := parent[i]) is not None and up not in seen:
            i = up
            seen.add(i)
        return i

    out: dict[int, dict] = {}
    for i, alert in enumerate(alerts):
        if parent[i] is None or root(i) == i:
            out[i] = {**alert, "folded": []}
    for i, alert in enumerate(alerts):
        if i not in out:
            top = root(i)
            (out[top] if top in out else out.setdefault(top, {**alerts[top], "folded": []}))[
                "folded"
            ].append(alert)
    order = sorted(out, key=lambda i: (alerts[i]["started"], alerts[i]["alertname"]))
    return [out[i] for i in order]


def slow_incidents(
    system: str, service: str, runs: list[tuple[float, float]], alerts: list[dict]
) -> list[dict]:
    """Slow periods [(start, end)] of one service that no slow alert of it overlaps."""
    covering = [
        a for a in alerts if a["alertname"] == SLOW_ALERT and a["labels"].get("service") == service
    ]
    out = []
    for a, b in runs:
        if any(
            c["started"] - MERGE_TOLERANCE <= b and a <= c["ended"] + MERGE_TOLERANCE
            for c in covering
        ):
            continue
        out.append(
            {
                "alertname": SLOW_ALERT,
                "severity": "warning",
                "system": system,
                "labels": {"service": service},
                "started": a,
                "ended": b,
                "ongoing": False,
                "active_since": None,
                "duration_seconds": b - a,
                "measured": True,
            }
        )
    return out
