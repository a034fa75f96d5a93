"""The written assessment: one paragraph per question of the contract, in en and zh.

How the system ran, how stable it was, whether performance was optimal, and advice; each
sentence is made from the figures of the system's document, formatted here, so every
number in the text is a number of the JSON.
"""

from __future__ import annotations

QUESTIONS = ("operation", "stability", "performance", "advice")


def pct(value) -> str:
    return "—" if value is None else f"{value * 100:.3f}%"


def minutes(seconds) -> str:
    return "—" if seconds is None else f"{seconds / 60:.0f}"


def _worst_contract(s: dict) -> dict | None:
    rated = [
        r
        for k in ("services", "integrations")
        for r in s[k]
        if r.get("contract_availability_ratio") is not None
    ]
    return min(rated, key=lambda r: r["contract_availability_ratio"]) if rated else None


def _operation(s: dict) -> tuple[str, str]:
    counts = (len(s["services"]), len(s["integrations"]), len(s["databases"]))
    en = (
        f"Watched: {counts[0]} services, {counts[1]} integrations, {counts[2]} databases; "
        f"data coverage {pct(s['coverage_ratio'])}."
    )
    zh = (
        f"本期监测服务 {counts[0]} 个、系统间接口 {counts[1]} 个、数据库 {counts[2]} 个，"
        f"数据覆盖率 {pct(s['coverage_ratio'])}。"
    )
    worst = _worst_contract(s)
    if worst:
        met = worst["sla_met"]
        en += (
            f" The lowest contract availability is {worst['name']} at "
            f"{pct(worst['contract_availability_ratio'])} "
            f"(plain {pct(worst['availability_ratio'])}, SLA {pct(worst['sla_target'])}): "
            f"the SLA is {'met' if met else 'not met'}."
        )
        zh += (
            f"合同可用率最低的是 {worst['name']}，为 {pct(worst['contract_availability_ratio'])}"
            f"（单纯可用率 {pct(worst['availability_ratio'])}，SLA {pct(worst['sla_target'])}），"
            f"{'达到' if met else '未达到'} SLA。"
        )
    else:
        en += " No service had data for the contract availability."
        zh += "没有服务有可用于计算合同可用率的数据。"
    planned = s.get("maintenance") or []
    if planned:
        total = sum(m["to_ts"] - m["from_ts"] for m in planned)
        en += f" Planned maintenance: {len(planned)} windows, {minutes(total)} minutes in all."
        zh += f"计划维护 {len(planned)} 次，共 {minutes(total)} 分钟。"
    return en, zh


def _stability(s: dict) -> tuple[str, str]:
    st = s["stability"]
    incidents = s.get("incidents", [])
    folded = sum(len(i["folded"]) for i in incidents)
    by = st["by_severity"]
    en = (
        f"{st['incidents']} incidents ({by.get('critical', 0)} critical, "
        f"{by.get('warning', 0)} warning); {folded} further alerts were consequences of them "
        f"and are folded under their cause."
    )
    zh = (
        f"本期事件 {st['incidents']} 起（严重 {by.get('critical', 0)} 起、警告 "
        f"{by.get('warning', 0)} 起），另有 {folded} 条告警由这些事件引起，已合并到其原因事件下。"
    )
    if st["mean_time_to_resolve_seconds"] is not None:
        en += f" Mean time to resolve: {minutes(st['mean_time_to_resolve_seconds'])} minutes."
        zh += f"平均恢复时间 {minutes(st['mean_time_to_resolve_seconds'])} 分钟。"
    outages = [
        r
        for k in ("services", "integrations", "databases")
        for r in s[k]
        if r.get("longest_outage_seconds")
    ]
    if outages:
        longest = max(outages, key=lambda r: r["longest_outage_seconds"])
        en += (
            f" The longest outage was {longest['name']}, "
            f"{minutes(longest['longest_outage_seconds'])} minutes."
        )
        zh += (
            f"最长一次中断为 {longest['name']}，{minutes(longest['longest_outage_seconds'])} 分钟。"
        )
    else:
        en += " There was no outage."
        zh += "本期无中断。"
    return en, zh


def _performance(s: dict) -> tuple[str, str]:
    en_parts, zh_parts = [], []
    for q in s["performance"]["services"]:
        if q["p95_seconds"] is None:
            continue
        ok = q["p95_seconds"] <= q["sla_response_seconds"]
        en_parts.append(
            f"{q['name']} p95 {q['p95_seconds']:.3f} s against "
            f"{q['sla_response_seconds']:.3f} s "
            f"({'within' if ok else 'above'} the SLA), "
            f"slower than the SLA for "
            f"{minutes(q['slow_seconds'])} minutes"
        )
        zh_parts.append(
            f"{q['name']} 的 p95 为 {q['p95_seconds']:.3f} s，SLA 为 "
            f"{q['sla_response_seconds']:.3f} s（{'达标' if ok else '超标'}），"
            f"慢于 SLA 共 {minutes(q['slow_seconds'])} 分钟"
        )
    if not en_parts:
        return ("No response-time data.", "无响应时间数据。")
    rated = [q for q in s["performance"]["services"] if q["p95_seconds"] is not None]
    slow = any(q["slow_seconds"] for q in rated)
    over = any(q["p95_seconds"] > q["sla_response_seconds"] for q in rated)
    verdict_en = (
        "Performance was optimal."
        if not slow and not over
        else "Performance was not optimal: the slow time counts as fault time by the contract."
        if s["sla"].get("slow_is_fault", True)
        else "Performance was not optimal."
    )
    verdict_zh = (
        "性能处于最佳状态。"
        if not slow and not over
        else "性能未处于最佳状态：按合同，缓慢时间计为故障时间。"
        if s["sla"].get("slow_is_fault", True)
        else "性能未处于最佳状态。"
    )
    return "; ".join(en_parts) + ". " + verdict_en, "；".join(zh_parts) + "。" + verdict_zh


def _advice(s: dict, t_en, t_zh) -> tuple[str, str]:
    recs = s["recommendations"][:3]
    flagged = [c for c in s.get("checklist", []) if c["result"] in ("abnormal", "attention")]
    if not recs and not flagged:
        return (
            "No action is needed; keep the current operation.",
            "无需处理事项，保持现有运维方式。",
        )
    en = " ".join(t_en(f"rec.{r['key']}", target=r["target"]) for r in recs)
    zh = "".join(t_zh(f"rec.{r['key']}", target=r["target"]) for r in recs)
    if flagged:
        names_en = ", ".join(f"{t_en('check.' + c['item'])} ({c['target']})" for c in flagged[:6])
        names_zh = "、".join(f"{t_zh('check.' + c['item'])}（{c['target']}）" for c in flagged[:6])
        en += f" Checklist items to follow up: {names_en}."
        zh += f"需跟进的巡检项：{names_zh}。"
    return en.strip(), zh


def assess(s: dict) -> dict:
    """{"en": {question: text}, "zh": {question: text}} for one analysed system."""
    from ..render.messages import catalogue  # the catalogue's words for recommendations

    t_en, t_zh = catalogue("en"), catalogue("zh")
    texts = {
        "operation": _operation(s),
        "stability": _stability(s),
        "performance": _performance(s),
        "advice": _advice(s, t_en, t_zh),
    }
    return {"en": {q: texts[q][0] for q in QUESTIONS}, "zh": {q: texts[q][1] for q in QUESTIONS}}


def assess_overall(systems: list[dict]) -> dict:
    """The overall paragraph per question: how many systems met the SLA, incidents, advice."""
    met = [s["name"] for s in systems if s["sla_met"]]
    missed = [s["name"] for s in systems if s["sla_met"] is False]
    incidents = sum(s["stability"]["incidents"] for s in systems)
    slow = [
        s["name"]
        for s in systems
        if any(q["slow_seconds"] for q in s["performance"]["services"] if q["slow_seconds"])
    ]
    advice = [s["name"] for s in systems if s["recommendations"]]
    return {
        "en": {
            "operation": f"{len(systems)} systems; SLA met by {len(met)}"
            + (f", missed by {', '.join(missed)}." if missed else "."),
            "stability": f"{incidents} incidents in all.",
            "performance": ("Slower than the SLA at times: " + ", ".join(slow) + ".")
            if slow
            else "No system was slower than its SLA.",
            "advice": ("Actions are recommended for " + ", ".join(advice) + ".")
            if advice
            else "No action is needed.",
        },
        "zh": {
            "operation": f"共 {len(systems)} 个系统，{len(met)} 个达到 SLA"
            + (f"，未达到：{'、'.join(missed)}。" if missed else "。"),
            "stability": f"共发生事件 {incidents} 起。",
            "performance": ("存在慢于 SLA 的时段：" + "、".join(slow) + "。")
            if slow
            else "没有系统慢于其 SLA。",
            "advice": ("建议处理的系统：" + "、".join(advice) + "。")
            if advice
            else "无需处理事项。",
        },
    }
