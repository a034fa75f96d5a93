"""Servers: each host's CPU, load, memory, filesystems, disks, network and clock (node_exporter)."""

from dashboards.helpers import (
    UP_MAPPINGS,
    Layout,
    area_dashboard,
    high_is_bad,
    low_is_bad,
    selector,
    stat,
    steps,
    table,
    timeseries,
)


def host(metric: str, **matchers: str) -> str:
    """The metric for the selected systems and hosts."""
    return selector(metric, "host", **matchers)


LEGEND = "{{system}} / {{host}}"
MOUNT = "{{host}} {{mountpoint}}"
DEVICE = "{{host}} {{device}}"

layout = Layout()
layout.row("Hosts")
layout.add(
    stat(
        "Host up",
        [(host("up", job="node"), "{{host}}")],
        mappings=UP_MAPPINGS,
        thresholds=steps("red", (1, "green")),
        text_mode="value_and_name",
        description="1 when Prometheus scrapes the host's node_exporter; 0 means the "
        "host or its node_exporter is down and its figures read no data.",
    ),
    w=12,
    h=6,
)
layout.add(
    table(
        "Uptime",
        [(f"time() - {host('node_boot_time_seconds')}", "")],
        unit="s",
        rename={"Value": "uptime"},
        description="Time since the host booted; a short one is a recent reboot.",
    ),
    w=12,
    h=6,
)

layout.row("CPU and memory")
layout.add(
    timeseries(
        "CPU busy",
        [(host("aftercare:host_cpu_busy:ratio_rate5m"), LEGEND)],
        "percentunit",
        thresholds=high_is_bad("host_cpu_busy_ratio"),
        max_value=1,
        description="Share of CPU time neither idle nor waiting for I/O, mean "
        "over the cores, 5 minutes.",
    ),
    w=12,
)
layout.add(
    timeseries(
        "CPU iowait and steal",
        [
            (host("aftercare:host_cpu_iowait:ratio_rate5m"), "iowait " + LEGEND),
            (host("aftercare:host_cpu_steal:ratio_rate5m"), "steal " + LEGEND),
        ],
        "percentunit",
        max_value=1,
        description="Time waiting for disks, and time the hypervisor gave away.",
    ),
    w=12,
)
layout.add(
    timeseries(
        "Load per core",
        [(host("aftercare:host_load5:per_core"), LEGEND)],
        "short",
        thresholds=high_is_bad("host_load_per_core"),
        description="5-minute load average divided by the number of cores.",
    ),
    w=12,
)
layout.add(
    timeseries(
        "Memory available",
        [(host("aftercare:host_memory:available_ratio"), LEGEND)],
        "percentunit",
        thresholds=low_is_bad("host_memory_available_ratio"),
        max_value=1,
        description="MemAvailable / MemTotal.",
    ),
    w=12,
)

layout.row("Filesystems and disks")
layout.add(
    table(
        "Filesystem used",
        [(host("aftercare:host_filesystem:used_ratio"), "")],
        unit="percentunit",
        thresholds=high_is_bad("host_filesystem_used_ratio"),
        rename={"Value": "used"},
        description="Space in use per mount point (tmpfs, overlay, squashfs left out).",
    ),
    w=12,
)
AVAILABLE = (
    'node_filesystem_avail_bytes{system=~"$system",host=~"$host",fstype!~"tmpfs|overlay|squashfs"}'
)
layout.add(
    timeseries(
        "Filesystem available",
        [(AVAILABLE, MOUNT)],
        "bytes",
        description="Space an unprivileged user can still write.",
    ),
    w=12,
)
layout.add(
    timeseries(
        "Disk busy",
        [(host("aftercare:host_disk:busy_ratio_rate5m"), DEVICE)],
        "percentunit",
        thresholds=high_is_bad("host_disk_busy_ratio"),
        max_value=1,
        description="Share of the time each disk had I/O in flight.",
    ),
    w=12,
)
layout.add(
    timeseries(
        "Network errors and drops",
        [
            (host("aftercare:host_network_errors:rate5m"), "errors " + DEVICE),
            (host("aftercare:host_network_drops:rate5m"), "drops " + DEVICE),
        ],
        "pps",
        description="Receive and transmit errors, and dropped packets, per second.",
    ),
    w=12,
)

layout.row("Clock")
layout.add(
    timeseries(
        "Clock offset",
        [(host("node_timex_offset_seconds"), LEGEND)],
        "s",
        thresholds=high_is_bad("host_clock_offset_seconds"),
        description="Offset of the kernel clock from its time source.",
    ),
    w=12,
)
layout.add(
    table(
        "Clock synchronised",
        [(host("node_timex_sync_status"), "")],
        rename={"Value": "synchronised"},
        description="1 when a time daemon keeps the kernel clock synchronised.",
    ),
    w=12,
)

dashboard = area_dashboard(
    "hosts",
    layout.panels,
    "node_boot_time_seconds",
    "Host",
    description="The servers of each system, through node_exporter: "
    "CPU, memory, disks, network and clock.",
)
