"""An HTTP sink that records Alertmanager webhook notifications."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from .ports import free_port


@dataclass(frozen=True)
class Notification:
    """One POST the sink received: path, parsed JSON body (None if not JSON), receive time."""

    path: str
    body: Any
    received_at: float
    raw: bytes = field(repr=False, default=b"")
    headers: dict[str, str] = field(repr=False, default_factory=dict)

    @property
    def status(self) -> str | None:
        """The payload's group status (firing/resolved), if any."""
        return self.body.get("status") if isinstance(self.body, dict) else None

    @property
    def alerts(self) -> list[dict[str, Any]]:
        """The payload's alerts list (empty if none)."""
        return list(self.body.get("alerts") or []) if isinstance(self.body, dict) else []


Predicate = Callable[[Notification], bool]


def _alert_predicate(status: str, alertname: str, labels: dict[str, str]) -> Predicate:
    """Match a notification carrying an alert in status with alertname and the given labels."""
    wanted = dict(labels, alertname=alertname)

    def match(notification: Notification) -> bool:
        return any(
            alert.get("status") == status
            and all((alert.get("labels") or {}).get(k) == v for k, v in wanted.items())
            for alert in notification.alerts
        )

    match.__name__ = f"{status}({alertname}, {labels})"
    return match


def firing(alertname: str, **labels: str) -> Predicate:
    """Predicate: the notification carries a firing alert with this alertname and labels."""
    return _alert_predicate("firing", alertname, labels)


def resolved(alertname: str, **labels: str) -> Predicate:
    """Predicate: the notification carries a resolved alert with this alertname and labels."""
    return _alert_predicate("resolved", alertname, labels)


class WebhookSink:
    """A threaded HTTP server on 127.0.0.1 answering 200 to every POST and recording it."""

    def __init__(self, port: int | None = None) -> None:
        """Bind now (a free port unless given); serving starts on start() or entering the
        context."""
        self._cond = threading.Condition()
        self._received: list[Notification] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                sink._record(Notification(self.path, body, time.time(), raw, dict(self.headers)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port or free_port()), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    def _record(self, notification: Notification) -> None:
        with self._cond:
            self._received.append(notification)
            self._cond.notify_all()

    @property
    def port(self) -> int:
        """The listening port."""
        return self._server.server_address[1]

    @property
    def address(self) -> str:
        """host:port, to substitute for the placeholder in alertmanager.yml."""
        return f"127.0.0.1:{self.port}"

    def url_for(self, path: str) -> str:
        """Full URL of a receiver path on this sink, e.g. url_for('/oncall')."""
        return f"http://{self.address}/{path.lstrip('/')}"

    def start(self) -> WebhookSink:
        """Start serving in a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="webhook-sink", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> WebhookSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def received(self, path: str | None = None) -> list[Notification]:
        """A snapshot of the notifications received so far (only those to path, if given)."""
        with self._cond:
            items = list(self._received)
        if path is not None:
            wanted = "/" + path.lstrip("/")
            items = [n for n in items if n.path == wanted]
        return items

    def clear(self) -> None:
        """Forget everything received so far."""
        with self._cond:
            self._received.clear()

    def wait_for(
        self, predicate: Predicate, timeout: float = 30, path: str | None = None
    ) -> Notification:
        """Wait until a received notification (to path, if given) matches predicate; return it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for notification in self.received(path):
                    if predicate(notification):
                        return notification
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [
                        (n.path, n.status, [a.get("labels") for a in n.alerts])
                        for n in self._received
                    ]
                    name = getattr(predicate, "__name__", repr(predicate))
                    raise AssertionError(
                        f"timed out after {timeout:g}s waiting for a webhook "
                        f"matching {name} (path={path!r}); received: {seen}"
                    )
                self._cond.wait(remaining)
