"""The servers section: per host of each system, figures over the period from the raw
node_exporter series (job ``node``, labels ``system`` and ``host`` from the targets file).

Computed from raw series, not the recording rules, so a Prometheus that loaded the rules
late still gives the whole period.  A host whose node_exporter reported nothing in the
period has ``has_data`` false and every figure None ("no data"), never zero.  A system
without ``hosts:`` in aftercare.yml has an empty list: the report says so.
"""

from __future__ import annotations

import math

from .common import STEP, Context

FS = 'fstype!~"tmpfs|overlay|squashfs"'
SATURATED_CPU = 0.8  # advice threshold: CPU busy share
CPU_BUSY = (
    "1 - avg by (system, host) (sum without (mode) "
    '(rate(node_cpu_seconds_total{{{sel},mode=~"idle|iowait"}}[5m])))'
)
MEMORY_USED = "1 - node_memory_MemAvailable_bytes{{{sel}}} / node_memory_MemTotal_bytes{{{sel}}}"
LOAD_PER_CORE = (
    "node_load5{{{sel}}} / on (system, host, job, instance) "
    'count without (cpu, mode) (node_cpu_seconds_total{{{sel},mode="idle"}})'
)
DISK_BUSY = "max by (system, host) (rate(node_disk_io_time_seconds_total{{{sel}}}[5m]))"
CLOCK_OFFSET = "abs(node_timex_offset_seconds{{{sel}}})"


def quantile(values: list[float], q: float) -> float | None:
    """The q-quantile as Prometheus's quantile_over_time computes it (linear between ranks)."""
    values = sorted(v for v in values if not math.isnan(v))
    if not values:
        return None
    rank = q * (len(values) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return values[low] + (values[high] - values[low]) * (rank - low)


def points(client, expr: str, start: float, end: float, step: float) -> dict[tuple, list]:
    """{(system, host): [values]} of ``expr`` sampled every ``step`` over the period."""
    out: dict[tuple, list] = {}
    for key, values in client.range(expr, start, end, step).items():
        labels = dict(key)
        out.setdefault((labels.get("system", ""), labels.get("host", "")), []).extend(
            float(v) for _, v in values
        )
    return out


def filesystems(client, sel: str, start: float, end: float) -> dict[tuple, list]:
    """Per host: each filesystem's use at the period's end, growth and days until full."""
    span = max(end - start, 1.0)
    window = f"{int(span)}s"
    used = client.instant(
        f"1 - node_filesystem_avail_bytes{{{sel},{FS}}} / node_filesystem_size_bytes{{{sel},{FS}}}",
        end,
    )
    growth = {
        (r["metric"].get("host"), r["metric"].get("mountpoint")): -float(r["value"][1])
        for r in client.instant(f"delta(node_filesystem_avail_bytes{{{sel},{FS}}}[{window}])", end)
    }
    slope = {
        (r["metric"].get("host"), r["metric"].get("mountpoint")): float(r["value"][1])
        for r in client.instant(f"deriv(node_filesystem_avail_bytes{{{sel},{FS}}}[{window}])", end)
    }
    avail = {
        (r["metric"].get("host"), r["metric"].get("mountpoint")): float(r["value"][1])
        for r in client.instant(f"node_filesystem_avail_bytes{{{sel},{FS}}}", end)
    }
    out: dict[tuple, list] = {}
    for row in used:
        m = row["metric"]
        key = (m.get("host"), m.get("mountpoint"))
        rate = slope.get(key)
        days = avail[key] / -rate / 86400 if rate is not None and rate < 0 else None
        out.setdefault((m.get("system", ""), m.get("host", "")), []).append(
            {
                "mountpoint": m.get("mountpoint"),
                "device": m.get("device"),
                "used_ratio_end": float(row["value"][1]),
                "growth_bytes": growth.get(key),
                "days_until_full": days,
            }
        )
    for rows in out.values():
        rows.sort(key=lambda r: r["mountpoint"])
    return out


def saturation(values: list[float], step: float, threshold: float) -> float:
    """Seconds the figure spent above ``threshold``."""
    return sum(step for v in values if v > threshold)


def analyse_hosts(client, systems: list, start: float, end: float, step: float = STEP) -> dict:
    """{system name: [host figures]} over [start, end]; no query when no system has hosts."""
    if not any(s.hosts for s in systems):
        return {s.name: [] for s in systems}
    names = "|".join(s.name for s in systems)
    sel = f'job="node",system=~"{names}"'
    series = {
        name: points(client, expr.format(sel=sel), start, end, step)
        for name, expr in (
            ("cpu", CPU_BUSY),
            ("memory", MEMORY_USED),
            ("load", LOAD_PER_CORE),
            ("disk", DISK_BUSY),
            ("clock", CLOCK_OFFSET),
        )
    }
    boots = points(client, f"node_boot_time_seconds{{{sel}}}", start, end, step)
    fs = filesystems(client, sel, start, end)
    out = {}
    for system in systems:
        rows = []
        for host in system.hosts:
            key = (system.name, host.name)
            cpu = series["cpu"].get(key, [])
            has_data = bool(cpu or series["memory"].get(key))
            boot_values = [round(b) for b in boots.get(key, [])]
            rows.append(
                {
                    "name": host.name,
                    "role": host.role,
                    "address": host.address,
                    "has_data": has_data,
                    "cpu_busy_p95": quantile(cpu, 0.95),
                    "cpu_busy_max": max(cpu, default=None),
                    "cpu_busy_above_80_seconds": saturation(cpu, step, SATURATED_CPU)
                    if has_data
                    else None,
                    "memory_used_p95": quantile(series["memory"].get(key, []), 0.95),
                    "load_per_core_p95": quantile(series["load"].get(key, []), 0.95),
                    "disk_busy_p95": quantile(series["disk"].get(key, []), 0.95),
                    "clock_offset_max_seconds": max(series["clock"].get(key, []), default=None),
                    "reboots": sum(
                        1 for a, b in zip(boot_values, boot_values[1:], strict=False) if b - a > 1
                    )
                    if has_data
                    else None,
                    "filesystems": fs.get(key, []),
                }
            )
        out[system.name] = rows
    return out


def analyse(ctx: Context) -> dict:
    return analyse_hosts(ctx.client, ctx.systems, ctx.period.start_ts, ctx.period.end_ts)
