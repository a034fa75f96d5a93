"""Charts as inline SVG from matplotlib (no external files, no scripts)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402

matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: small, selectable
matplotlib.rcParams["font.family"] = ["DejaVu Sans", "WenQuanYi Micro Hei", "sans-serif"]


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.subplots_adjust(
        left=0.08, right=0.99, top=0.97, bottom=0.12
    )  # one draw, not two (tight bbox)
    fig.savefig(buf, format="svg")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def daily_availability(rows: list[dict], sla: float | None) -> str | None:
    """Daily availability per target as lines (SVG); None when nothing has data."""
    fig = _availability_figure(rows, sla)
    return None if fig is None else _svg(fig)


def daily_availability_png(rows: list[dict], sla: float | None) -> bytes | None:
    """The same chart as a PNG image, for the DOCX."""
    fig = _availability_figure(rows, sla)
    if fig is None:
        return None
    buf = io.BytesIO()
    fig.subplots_adjust(left=0.08, right=0.99, top=0.97, bottom=0.12)
    fig.savefig(buf, format="png", dpi=150)
    plt.close(fig)
    return buf.getvalue()


def _availability_figure(rows: list[dict], sla: float | None):
    by_hour = bool(rows) and bool(rows[0].get("hourly"))  # a period under two days
    key = "hourly" if by_hour else "daily"
    series = [
        (r["name"], [d["availability_ratio"] for d in r[key]])
        for r in rows
        if any(d["availability_ratio"] is not None for d in r[key])
    ]
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 2.4))
    days = list(range(1, len(rows[0][key]) + 1))
    if by_hour:
        ax.set_xlabel("h")
    for name, values in series:
        percent = [v * 100 if v is not None else float("nan") for v in values]  # gaps stay gaps
        ax.plot(days, percent, marker=".", label=name)
    if sla:
        ax.axhline(sla * 100, color="#c0392b", linestyle="--", linewidth=0.8, label="SLA")
    lows = [v for _, vs in series for v in vs if v is not None]
    ax.set_ylim(max(0, min(lows) * 100 - 1), 100.5)
    ax.set_xlim(0.5, len(days) + 0.5)
    ax.set_ylabel("%")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=4, loc="lower left")
    return fig


def size_trend(rows: list[dict]) -> str | None:
    """Database size over the period (GiB)."""
    series = [(r["name"], r["daily_size"]) for r in rows if r.get("daily_size")]
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 2.2))
    for name, points in series:
        start = points[0][0]
        ax.plot(
            [(t - start) / 86400 + 1 for t, _ in points], [v / 2**30 for _, v in points], label=name
        )
    ax.set_ylabel("GiB")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _svg(fig)


def daily_requests(rows: list[dict]) -> str | None:
    """Requests per day per access-log source (stacked steps), 5xx drawn in red."""
    series = [r for r in rows if r.get("requests")]
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 2.2))
    days = len(series[0]["daily"])
    edges = [d + 0.5 for d in range(days + 1)]  # one filled step line per source: cheap to draw
    bottom = [0] * days
    for row in series:
        top = [b + d["requests"] for b, d in zip(bottom, row["daily"], strict=False)]
        ax.stairs(top, edges, baseline=bottom, fill=True, label=row["name"])
        bottom = top
    errors = [sum(r["daily"][i]["errors_5xx"] for r in series) for i in range(days)]
    ax.stairs(errors, edges, fill=True, color="#c0392b", label="5xx")
    ax.set_xlim(0.5, days + 0.5)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7, ncol=4, loc="upper left")
    return _svg(fig)
