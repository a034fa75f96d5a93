"""Static previews of the generated dashboards: panels laid out as in Grafana, filled with live
query results from a Prometheus, written as HTML and screenshotted with headless Chromium.

    python -m dashboards.preview --prometheus http://127.0.0.1:9090 --out DIR [--range 6h]

A preview, not Grafana: stat, time series and table panels are drawn from their JSON (grid
position, unit, thresholds, value mappings, legend format, repeated rows) with simple SVG.
"""

from __future__ import annotations

import argparse
import html
import math
import shutil
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests

from dashboards.queries import legend, load_dashboards, substitute, variables
from reportgen.prom import PromClient

UNIT_PX = 26  # height of one grid unit
WIDTH_PX = 1400
PALETTE = [
    "#7eb26d",
    "#eab839",
    "#6ed0e0",
    "#ef843c",
    "#e24d42",
    "#1f78c1",
    "#ba43a9",
    "#705da0",
    "#508642",
    "#cca300",
    "#447ebc",
    "#c15c17",
]
COLOURS = {
    "green": "#299c46",
    "red": "#d44a3a",
    "orange": "#ed8128",
    "yellow": "#e0b400",
    "blue": "#3274d9",
    "text": "#d8d9da",
}


def series_range(
    client: PromClient, expr: str, start: float, end: float, step: float
) -> list[dict]:
    """A range query's series in Prometheus's order: [{metric, values: [(t, v), ...]}]."""
    return [
        {"metric": dict(labels), "values": values}
        for labels, values in client.range(expr, start, end, step).items()
    ]


# -- values ------------------------------------------------------------------------------------


def _scaled(value: float, base: float, suffixes: list[str], decimals: int = 1) -> str:
    for suffix in suffixes[:-1]:
        if abs(value) < base:
            return f"{value:.{decimals}f} {suffix}".replace(".0 ", " ")
        value /= base
    return f"{value:.{decimals}f} {suffixes[-1]}"


def _duration(seconds: float) -> str:
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    parts = [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)]
    out = []
    for suffix, size in parts:
        if seconds >= size or (suffix == "s" and not out):
            out.append(f"{int(seconds // size)}{suffix}")
            seconds %= size
        if len(out) == 2:
            break
    return sign + " ".join(out)


def format_value(value: float, unit: str, decimals: int | None = None) -> str:
    """A value as Grafana shows it for the common units."""
    if value is None or math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if unit == "bytes":
        return _scaled(value, 1024, ["B", "KiB", "MiB", "GiB", "TiB", "PiB"])
    if unit == "Bps":
        return _scaled(value, 1024, ["B/s", "KiB/s", "MiB/s", "GiB/s"])
    if unit == "percentunit":
        return f"{value * 100:.{1 if decimals is None else decimals}f}%"
    if unit == "s":
        if abs(value) < 1:
            return f"{value * 1000:.1f} ms"
        return f"{value:.2f} s" if abs(value) < 60 else _duration(value)
    if unit == "dtdurations":
        return _duration(value)
    if unit == "dateTimeAsIso":
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(value / 1000))
    suffix = {"ops": " ops/s", "reqps": " req/s"}.get(unit, "")
    if abs(value) >= 1000:
        return _scaled(value, 1000, ["", "K", "M", "G", "T"]).strip() + suffix
    digits = 0 if float(value).is_integer() else (decimals if decimals is not None else 2)
    return f"{value:.{digits}f}{suffix}"


def colour_for(value: float, defaults: dict) -> tuple[str, str | None]:
    """(colour, mapped text) of a value: a value mapping wins, else the threshold step it
    reaches."""
    for mapping in defaults.get("mappings") or []:
        option = mapping.get("options", {}).get(format(value, "g"))
        if option:
            return COLOURS.get(option["color"], option["color"]), option["text"]
    colour = "green"
    for step in defaults.get("thresholds", {}).get("steps", []):
        if step["value"] is None or (not math.isnan(value) and value >= step["value"]):
            colour = step["color"]
    return COLOURS.get(colour, colour), None


# -- panels ------------------------------------------------------------------------------------


def _box(panel: dict, body: str, extra_style: str = "") -> str:
    pos = panel["gridPos"]
    return (
        f'<div class="panel" style="grid-column:{pos["x"] + 1}/span {pos["w"]};'
        f'grid-row:{pos["y"] + 1}/span {pos["h"]};{extra_style}">'
        f'<div class="title">{html.escape(panel["title"])}</div>'
        f'<div class="body">{body}</div></div>'
    )


def render_stat(panel: dict, results: list[list[dict]]) -> str:
    defaults = panel["fieldConfig"]["defaults"]
    unit, decimals = defaults.get("unit", "none"), defaults.get("decimals")
    show_name = panel["options"].get("textMode") == "value_and_name"
    cells = []
    for target, series in zip(panel["targets"], results, strict=True):
        for s in series:
            value = float(s["value"][1])
            colour, text = colour_for(value, defaults)
            name = legend(target["legendFormat"], s["metric"]) if show_name else ""
            cells.append(
                f'<div class="stat" style="background:{colour}">'
                f"{f'<span class=name>{html.escape(name)}</span>' if name else ''}"
                f'<span class="value">'
                f"{html.escape(text or format_value(value, unit, decimals))}</span></div>"
            )
    body = "".join(cells) or '<div class="nodata">no data</div>'
    return _box(panel, f'<div class="stats">{body}</div>')


def render_table(panel: dict, results: list[list[dict]]) -> str:
    defaults = panel["fieldConfig"]["defaults"]
    unit = defaults.get("unit") or "none"
    organize = next(
        (t["options"] for t in panel.get("transformations", []) if t["id"] == "organize"), {}
    )
    hidden = set(organize.get("excludeByName", {}))
    renamed = organize.get("renameByName", {})
    rows = [(s["metric"], float(s["value"][1])) for series in results for s in series]
    columns = sorted({k for labels, _ in rows for k in labels} - hidden)
    show_value = "Value" not in hidden
    head = "".join(f"<th>{html.escape(renamed.get(c, c))}</th>" for c in columns)
    head += f"<th>{html.escape(renamed.get('Value', 'Value'))}</th>" if show_value else ""
    body = []
    for labels, value in rows[:12]:
        cells = "".join(f"<td>{html.escape(labels.get(c, ''))}</td>" for c in columns)
        if show_value:
            colour, text = colour_for(value, {**defaults, "mappings": defaults.get("mappings")})
            style = (
                f' style="background:{colour}"'
                if panel["fieldConfig"]["defaults"]["custom"].get("displayMode")
                == "color-background-solid"
                else ""
            )
            cells += f"<td{style}>{html.escape(text or format_value(value, unit))}</td>"
        body.append(f"<tr>{cells}</tr>")
    table = (
        f"<table><tr>{head}</tr>{''.join(body)}</table>"
        if rows
        else '<div class="nodata">no data</div>'
    )
    return _box(panel, table)


def _tick_label(seconds_before_end: float) -> str:
    if seconds_before_end <= 0:
        return "now"
    return "-" + _duration(seconds_before_end).replace(" 0s", "").replace(" 0m", "")


def render_timeseries(panel: dict, results: list[list[dict]], start: float, end: float) -> str:
    defaults = panel["fieldConfig"]["defaults"]
    unit = defaults.get("unit") or "short"
    pos = panel["gridPos"]
    series = [
        (legend(t["legendFormat"], s["metric"]), [(float(x), float(y)) for x, y in s["values"]])
        for t, res in zip(panel["targets"], results, strict=True)
        for s in res
    ]
    points = [y for _, values in series for _, y in values if math.isfinite(y)]
    if not points:
        return _box(panel, '<div class="nodata">no data</div>')
    legend_px = 18 + 16 * min(len(series), 4)
    w, h = pos["w"] * (WIDTH_PX - 20) / 24 - 70, pos["h"] * UNIT_PX - 58 - legend_px
    lo = min(points + ([0.0] if defaults.get("min") == 0 else []))
    hi = max(points + ([float(defaults["max"])] if defaults.get("max") is not None else []))
    steps = defaults.get("thresholds", {}).get("steps", [])[1:]
    dashed = defaults.get("custom", {}).get("thresholdsStyle", {}).get("mode") == "dashed"
    hi = max([hi] + [s["value"] for s in steps if dashed and s["value"] <= hi * 1.5 + 1e-9]) or 1.0
    span = (hi - lo) or 1.0

    def x(t):
        return 60 + (t - start) / (end - start) * w

    def y(v):
        return 6 + (1 - (v - lo) / span) * h

    svg = [
        f'<svg width="{w + 70:.0f}" height="{h + 22:.0f}">',
        f'<text x="0" y="{y(hi) + 4:.0f}" class="axis">{format_value(hi, unit)}</text>',
        f'<text x="0" y="{y(lo) + 4:.0f}" class="axis">{format_value(lo, unit)}</text>',
        f'<line x1="60" y1="{y(lo):.1f}" x2="{60 + w:.0f}" y2="{y(lo):.1f}" class="grid"/>',
    ]
    tick = next(t for t in (5, 10, 30, 60, 300, 600, 1800, 3600, 7200) if (end - start) / t <= 7)
    for k in range(0, int((end - start) // tick) + 1):
        t = end - k * tick
        svg.append(
            f'<text x="{x(t) - 14:.0f}" y="{h + 20:.0f}" class="axis">{_tick_label(end - t)}</text>'
        )
    if dashed:
        for s in steps:
            if lo <= s["value"] <= hi:
                svg.append(
                    f'<line x1="60" y1="{y(s["value"]):.1f}" '
                    f'x2="{60 + w:.0f}" y2="{y(s["value"]):.1f}" '
                    f'stroke="{COLOURS.get(s["color"], s["color"])}" stroke-dasharray="6 4"/>'
                )
    step = (end - start) / 240
    bars = defaults.get("custom", {}).get("drawStyle") == "bars"
    legend_rows = []
    for i, (name, values) in enumerate(series[:4]):
        colour = PALETTE[i % len(PALETTE)]
        runs, run = [], []
        for t, v in values:
            if run and t - run[-1][0] > max(120, 3 * step):
                runs.append(run)
                run = []
            if math.isfinite(v):
                run.append((t, v))
        runs.append(run)
        for r in runs:
            if bars:
                svg += [
                    f'<line x1="{x(t):.1f}" y1="{y(lo):.1f}" x2="{x(t):.1f}" y2="{y(v):.1f}" '
                    f'stroke="{colour}" stroke-width="2"/>'
                    for t, v in r
                    if v
                ]
            elif len(r) == 1:
                svg.append(
                    f'<circle cx="{x(r[0][0]):.1f}" cy="{y(r[0][1]):.1f}" r="2.5" fill="{colour}"/>'
                )
            elif r:
                path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in r)
                svg.append(
                    f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5"/>'
                )
        finite = [v for _, v in values if math.isfinite(v)]
        last = format_value(finite[-1], unit) if finite else "NaN"
        peak = format_value(max(finite), unit) if finite else "NaN"
        legend_rows.append(
            f'<tr><td><span class="swatch" style="background:{colour}"></span>'
            f"{html.escape(name)}</td><td>{last}</td><td>{peak}</td></tr>"
        )
    svg.append("</svg>")
    table = (
        f'<table class="legend"><tr><th></th><th>Last</th><th>Max</th></tr>'
        f"{''.join(legend_rows)}</table>"
    )
    return _box(panel, "".join(svg) + table)


# -- dashboards --------------------------------------------------------------------------------

# a Template, not %-formatting: the CSS is full of braces and percentages
STYLE = string.Template(
    """
body{background:#111217;color:#d8d9da;font:12px/1.3 Inter,Helvetica,Arial,sans-serif;margin:0;"""
    """padding:10px}
h1{font-size:18px;margin:0 0 4px}.sub{color:#8e8e8e;margin-bottom:8px}
.grid{display:grid;grid-template-columns:repeat(24,1fr);grid-auto-rows:${row_px}px;gap:0 6px}
.panel{background:#181b1f;border:1px solid #2c3235;border-radius:3px;margin:0 0 5px;overflow:hidden;
 display:flex;flex-direction:column}
.row{grid-column:1/span 24;font-size:14px;font-weight:600;padding:4px 0;"""
    """border-bottom:1px solid #2c3235}
.title{font-weight:600;padding:4px 8px}.body{flex:1;padding:0 6px 4px;overflow:hidden}
.stats{display:flex;flex-wrap:wrap;gap:4px;height:100%}
.stat{flex:1 1 100px;display:flex;flex-direction:column;justify-content:center;align-items:center;
 border-radius:2px;color:#fff;min-height:40px}
.stat .value{font-size:22px;font-weight:600}.stat .name{font-size:11px}
.nodata{color:#8e8e8e;text-align:center;padding-top:10px}
table{border-collapse:collapse;width:100%;font-size:11px}td,th{padding:2px 4px;text-align:left;
 border-bottom:1px solid #2c3235;white-space:nowrap}th{color:#33a2e5}
.legend td:nth-child(n+2),.legend th:nth-child(n+2){text-align:right}
.swatch{display:inline-block;width:10px;height:3px;margin-right:4px;vertical-align:middle}
svg text.axis{fill:#8e8e8e;font-size:10px}svg line.grid{stroke:#2c3235}
"""
).substitute(row_px=UNIT_PX)


def render_dashboard(
    dashboard: dict, prometheus: PromClient, range_seconds: int = 6 * 3600, now: float | None = None
) -> tuple[str, int]:
    """(HTML, height in pixels) of one dashboard filled with the live results; All is selected."""
    end = now or time.time()
    start = end - range_seconds
    step = max(15, range_seconds // 240)
    base = variables(dashboard, range_=f"{range_seconds}s")
    systems = prometheus.label_values("system")
    blocks, current, shift = [], [], 0
    panels = dashboard["panels"]
    i = 0
    while i < len(panels):
        panel = panels[i]
        if panel["type"] != "row":
            current.append(render_panel(panel, prometheus, base, start, end, step))
            i += 1
            continue
        members = []
        j = i + 1
        while j < len(panels) and panels[j]["type"] != "row":
            members.append(panels[j])
            j += 1
        repeat = panel.get("repeat")
        block = 1 + _rows_height(members)
        repetitions = systems if repeat else [None]
        for k, value in enumerate(repetitions):
            offset = shift + k * block
            values = dict(base, **({repeat: value} if repeat else {}))
            title = substitute(panel["title"], {"system": value or "All"})
            current.append(
                f'<div class="row" style="grid-row:{panel["gridPos"]["y"] + offset + 1}">'
                f"{html.escape(title)}</div>"
            )
            current += [
                render_panel(_moved(p, offset), prometheus, values, start, end, step)
                for p in members
            ]
        shift += (len(repetitions) - 1) * block
        i = j
    height_units = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels) + shift
    blocks.append(f'<div class="grid">{"".join(current)}</div>')
    title = html.escape(dashboard["title"])
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(end))
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{STYLE}</style></head><body><h1>{title}</h1>"
        "<div class='sub'>Static preview of the generated Grafana JSON "
        "with live Prometheus results · "
        f"last {range_seconds // 3600}h to {when} "
        "(a panel with less history is zoomed to its data) · "
        f"all variables: All</div>{''.join(blocks)}</body></html>"
    )
    return page, 70 + height_units * UNIT_PX + 20


def _moved(panel: dict, offset: int) -> dict:
    """A copy of the panel moved offset grid units down (a repeated row's copy)."""
    return dict(panel, gridPos=dict(panel["gridPos"], y=panel["gridPos"]["y"] + offset))


def _rows_height(members: list[dict]) -> int:
    if not members:
        return 0
    top = min(p["gridPos"]["y"] for p in members)
    return max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in members) - top


def render_panel(
    panel: dict,
    prometheus: PromClient,
    values: dict[str, str],
    start: float,
    end: float,
    step: float,
) -> str:
    """One panel's HTML from its targets run with the given variable values."""
    exprs = [substitute(t["expr"], values) for t in panel["targets"]]
    if panel["type"] == "timeseries":
        results = [series_range(prometheus, e, start, end, step) for e in exprs]
        first = min((float(s["values"][0][0]) for r in results for s in r), default=start)
        if first > start + step:  # less history than the range: zoom to the data, as a user would
            fine = max(1.0, (end - first + step) / 240)
            results = [series_range(prometheus, e, first - step, end, fine) for e in exprs]
            first = min(
                (float(s["values"][0][0]) for r in results for s in r), default=first - step
            )
            start = first - max(1.0, (end - first) * 0.02)
        return render_timeseries(panel, results, start, end)
    results = [prometheus.instant(e, end) for e in exprs]
    return (render_stat if panel["type"] == "stat" else render_table)(panel, results)


def chromium() -> str | None:
    """The headless browser used for screenshots (Debian's chromium), if installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(
    html_path: Path, png_path: Path, height: int, run: Callable = subprocess.run
) -> None:
    """Screenshot an HTML file with headless Chromium; RuntimeError when it fails."""
    browser = chromium()
    if browser is None:
        raise RuntimeError("chromium is not installed (Debian package chromium)")
    with tempfile.TemporaryDirectory(prefix="aftercare-chromium-") as profile:
        result = run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--window-size={WIDTH_PX},{height}",
                f"--screenshot={png_path}",
                html_path.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    if result.returncode != 0 or not png_path.is_file():
        raise RuntimeError(f"chromium failed ({result.returncode}): {result.stderr[-500:]}")


def write_previews(
    prometheus_url: str, out: Path, range_seconds: int = 6 * 3600, png: bool = True
) -> list[Path]:
    """Write <uid>.html (and <uid>.png) for every generated dashboard into out."""
    out.mkdir(parents=True, exist_ok=True)
    client = PromClient(prometheus_url)
    written = []
    for uid, dashboard in load_dashboards().items():
        page, height = render_dashboard(dashboard, client, range_seconds)
        html_path = out / f"{uid}.html"
        html_path.write_text(page, encoding="utf-8")
        written.append(html_path)
        if png:
            png_path = out / f"{uid}.png"
            screenshot(html_path, png_path, height)
            written.append(png_path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dashboards.preview", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--prometheus", required=True, help="Prometheus base URL")
    parser.add_argument(
        "--out", type=Path, required=True, help="directory for the HTML and PNG files"
    )
    parser.add_argument(
        "--range", dest="hours", type=int, default=6, help="hours of history to draw"
    )
    parser.add_argument("--no-png", action="store_true", help="write the HTML only")
    args = parser.parse_args(argv)
    try:
        for path in write_previews(
            args.prometheus, args.out, args.hours * 3600, png=not args.no_png
        ):
            print(path)
    except (requests.RequestException, RuntimeError) as exc:
        print(f"dashboards.preview: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
