"""Application-server status pages: nginx stub_status and Apache mod_status ``?auto``.

One GET of the server's own status page (basic auth when the check has a user),
parsed strictly: a page that is not the expected format (an HTML error page, a
login form) is ``reason="content"``, never a crash.  The series carry the
server's own counters and gauges, so they equal what the page says.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field

from ..metrics import counter, gauge
from .core import ProbeContext, ProbeFailed
from .http import PHASES, _exchange

CONNECTIONS = gauge(
    "aftercare_appserver_connections",
    "Client connections of the application server by state (nginx: active, reading, "
    "writing, waiting; Apache: one state per scoreboard letter).",
    "state",
)
REQUESTS = counter(
    "aftercare_appserver_requests_total",
    "Requests the application server has served since it started.",
)
CONNECTIONS_ACCEPTED = counter(
    "aftercare_appserver_connections_accepted_total",
    "Client connections accepted since start (nginx).",
)
CONNECTIONS_HANDLED = counter(
    "aftercare_appserver_connections_handled_total",
    "Client connections handled since start (nginx); fewer than "
    "accepted when a resource limit was reached.",
)
THREADS_BUSY = gauge(
    "aftercare_appserver_threads_busy",
    "Workers or threads of a pool serving a request now (Apache: busy workers).",
    "pool",
)
THREADS_MAX = gauge(
    "aftercare_appserver_threads_max",
    "Workers or threads a pool may run at most (Apache: scoreboard slots).",
    "pool",
)

# mod_status scoreboard letters
APACHE_STATES = {
    "_": "waiting",
    "S": "starting",
    "R": "reading",
    "W": "sending_reply",
    "K": "keepalive",
    "D": "dns_lookup",
    "C": "closing",
    "L": "logging",
    "G": "graceful_finish",
    "I": "idle_cleanup",
    ".": "open_slot",
}
NGINX_PAGE = re.compile(
    r"Active connections:\s*(\d+)\s*\n\s*server accepts handled requests\s*\n"
    r"\s*(\d+)\s+(\d+)\s+(\d+)\s*\n\s*Reading:\s*(\d+)\s+Writing:\s*(\d+)\s+Waiting:\s*(\d+)\s*"
)


@dataclass
class _Request:
    """What the HTTP exchange reads of a check."""

    headers: dict = field(default_factory=dict)
    tls_verify: bool = True
    ca_file: str | None = None


def fetch(check, ctx: ProbeContext) -> str:
    """The status page's text; status other than 200 is a failure."""
    headers = {}
    if check.username:
        secret = check.password.reveal() if check.password else ""
        token = base64.b64encode(f"{check.username}:{secret}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    request = _Request(headers, check.tls_verify, check.ca_file)
    status, _, body = _exchange(check.url, "GET", request, ctx, dict.fromkeys(PHASES, 0.0))
    if status in (401, 403):
        raise ProbeFailed("auth", f"the status page answered {status}")
    if status != 200:
        raise ProbeFailed("status", f"the status page answered {status}")
    return body.decode("utf-8", "replace")


def parse_nginx(text: str) -> dict[str, int]:
    m = NGINX_PAGE.fullmatch(text)
    if not m:
        raise ProbeFailed("content", "not an nginx stub_status page")
    keys = ("active", "accepted", "handled", "requests", "reading", "writing", "waiting")
    return dict(zip(keys, map(int, m.groups()), strict=True))


def parse_apache(text: str) -> tuple[dict[str, str], str]:
    """The ``key: value`` lines of a mod_status ``?auto`` page, and its scoreboard."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            fields[key.strip()] = value.strip()
    board = fields.get("Scoreboard", "")
    if "BusyWorkers" not in fields or not board or set(board) - set(APACHE_STATES):
        raise ProbeFailed("content", "not an Apache mod_status ?auto page")
    return fields, board


def probe_status(check, ctx: ProbeContext) -> None:
    text = fetch(check, ctx)
    if check.type == "nginx":
        page = parse_nginx(text)
        for state in ("active", "reading", "writing", "waiting"):
            ctx.emit(CONNECTIONS, page[state], state)
        ctx.emit(CONNECTIONS_ACCEPTED, page["accepted"])
        ctx.emit(CONNECTIONS_HANDLED, page["handled"])
        ctx.emit(REQUESTS, page["requests"])
        return
    fields, board = parse_apache(text)
    for letter, state in APACHE_STATES.items():
        ctx.emit(CONNECTIONS, board.count(letter), state)
    ctx.emit(THREADS_BUSY, int(fields["BusyWorkers"]), "workers")
    ctx.emit(THREADS_MAX, len(board), "workers")
    if "Total Accesses" in fields:
        ctx.emit(REQUESTS, int(fields["Total Accesses"]))
