"""Alertmanager notifications as one Markdown message, in the channel's language.

One message per notification (an Alertmanager group); several queued
notifications may be merged into one message when a robot's rate limit
would otherwise hold them back.  A message never exceeds the vendor's size
limit: the alerts that do not fit are counted at its end.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

CST = dt.timezone(dt.timedelta(hours=8), "UTC+8")
TARGET_LABELS = ("database", "service", "source", "integration", "exchange", "backup", "instance")
WORDS = {
    "zh": {
        "firing": "告警",
        "resolved": "已恢复",
        "severity": "级别",
        "system": "系统",
        "target": "对象",
        "started": "开始时间",
        "for": "持续",
        "runbook": "处置手册",
        "grafana": "监控面板",
        "more": "还有 {n} 条告警未显示（消息长度限制）",
        "merged": "（合并 {n} 条通知）",
        "alerts": "条告警",
        "critical": "严重",
        "warning": "警告",
        "info": "提示",
        "none": "无",
    },
    "en": {
        "firing": "FIRING",
        "resolved": "RESOLVED",
        "severity": "Severity",
        "system": "System",
        "target": "Target",
        "started": "Started",
        "for": "For",
        "runbook": "Runbook",
        "grafana": "Grafana",
        "more": "{n} more alert(s) not shown (message size limit)",
        "merged": " ({n} notifications merged)",
        "alerts": "alert(s)",
        "critical": "critical",
        "warning": "warning",
        "info": "info",
        "none": "none",
    },
}


@dataclass(frozen=True)
class Message:
    title: str
    text: str
    critical: bool  # any firing critical alert: mention the on-call people
    shown: int  # alerts in the text
    omitted: int  # alerts left out for the size limit


def parse_time(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{days}d" if days else "",
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
        f"{secs}s" if secs and not days else "",
    ]
    return "".join(parts) or "0s"


def alert_block(alert: dict, lang: str, grafana_url: str, now: dt.datetime) -> str:
    """The Markdown lines of one alert."""
    w = WORDS[lang]
    labels, notes = alert.get("labels") or {}, alert.get("annotations") or {}
    status = alert.get("status", "firing")
    summary = (
        (notes.get("summary_zh") if lang == "zh" else None)
        or notes.get("summary")
        or labels.get("alertname", "?")
    )
    severity = labels.get("severity", "-")
    target = next((labels[k] for k in TARGET_LABELS if labels.get(k)), "-")
    lines = [
        f"**[{w.get(status, status)}] {summary}**",
        f"- {w['severity']}: {w.get(severity, severity)} · {w['system']}: "
        f"{labels.get('system', '-')} · {w['target']}: {target}",
    ]
    starts = parse_time(alert.get("startsAt", ""))
    if starts:
        ends = parse_time(alert.get("endsAt", "")) if status == "resolved" else None
        lasted = ((ends or now) - starts).total_seconds()
        lines.append(
            f"- {w['started']}: {starts.astimezone(CST):%Y-%m-%d %H:%M:%S} (UTC+8) · "
            f"{w['for']}: {_duration(lasted)}"
        )
    links = []
    if notes.get("runbook_url"):
        links.append(f"[{w['runbook']}]({notes['runbook_url']})")
    dashboard = (
        f"{grafana_url.rstrip('/')}/d/aftercare-{labels.get('area') or 'meta'}"
        f"?var-system={labels.get('system') or 'All'}"
    )
    links.append(f"[{w['grafana']}]({dashboard})")
    lines.append("- " + " · ".join(links))
    return "\n".join(lines)


def _heading(payload: dict, lang: str) -> str:
    w = WORDS[lang]
    group = payload.get("groupLabels") or {}
    status = payload.get("status", "firing")
    common = payload.get("commonLabels") or {}
    name = group.get("alertname") or common.get("alertname") or "alerts"
    system = f" · {group['system']}" if group.get("system") else ""
    return f"【{w.get(status, status)}】{name}{system} ×{len(payload.get('alerts') or [])}"


def render(
    payloads: list[dict], lang: str, grafana_url: str, limit: int, now: dt.datetime | None = None
) -> Message:
    """One message for ``payloads`` whose text fits in ``limit`` UTF-8 bytes."""
    now = now or dt.datetime.now(dt.UTC)
    w = WORDS[lang]
    title = _heading(payloads[0], lang)
    if len(payloads) > 1:
        title += w["merged"].format(n=len(payloads))
    critical = any(
        a.get("status") == "firing" and (a.get("labels") or {}).get("severity") == "critical"
        for p in payloads
        for a in p.get("alerts") or []
    )
    total = sum(len(p.get("alerts") or []) for p in payloads)
    reserve = len(w["more"].format(n=total).encode()) + 8
    parts: list[str] = []
    size, shown, full = 0, 0, False
    for payload in payloads:
        for i, alert in enumerate(payload.get("alerts") or []):
            piece = (
                (f"### {_heading(payload, lang)}\n\n" if i == 0 else "")
                + alert_block(alert, lang, grafana_url, now)
                + "\n\n"
            )
            cost = len(piece.encode())
            if full or size + cost + reserve > limit:
                full = True
                continue
            parts.append(piece)
            size += cost
            shown += 1
    omitted = total - shown
    text = "".join(parts).rstrip()
    if omitted:
        text += "\n\n" + w["more"].format(n=omitted)
    return Message(title=title, text=text, critical=critical, shown=shown, omitted=omitted)
