"""The HTTP endpoints: ``POST /notify/<channel>`` (Alertmanager's webhook), ``/metrics``,
``/-/healthy``, ``/-/ready``, ``POST /-/reload``.  With ``--web.config.file`` every
endpoint needs its basic auth, and TLS is served when configured."""

from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler

from prometheus_client.exposition import choose_encoder

from ..logsetup import redact
from ..metrics import LOG_NAME
from .service import UNKNOWN, Notifier

log = logging.getLogger(LOG_NAME)
MAX_BODY = 8 << 20


def malformed(payload) -> str | None:
    """Why ``payload`` is not an Alertmanager webhook body (None when it is one)."""
    if not isinstance(payload, dict):
        return "the body is not a JSON object"
    if payload.get("status") not in ("firing", "resolved"):
        return "status is not firing or resolved"
    alerts = payload.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        return "alerts is not a non-empty list"
    for i, alert in enumerate(alerts):
        if not isinstance(alert, dict) or not isinstance(alert.get("labels"), dict):
            return f"alerts[{i}] has no labels mapping"
        if not isinstance(alert.get("annotations", {}), dict):
            return f"alerts[{i}].annotations is not a mapping"
        if not isinstance(alert.get("startsAt", ""), str):
            return f"alerts[{i}].startsAt is not a string"
    for key in ("groupKey", "receiver"):
        if not isinstance(payload.get(key, ""), str):
            return f"{key} is not a string"
    return None


def reload_all(notifier: Notifier, web) -> tuple[bool, str]:
    """Re-read aftercare.yml's notify section and the web config; each keeps its old
    version when its new one is bad."""
    ok, message = notifier.reload()
    web_ok, web_message = web.reload()
    if not web_ok:
        notifier.reload_failed()
    return ok and web_ok, message if not ok else web_message if not web_ok else message


def make_handler(notifier: Notifier, web) -> type[BaseHTTPRequestHandler]:
    """``web``: the web config in force (server.LiveWebConfig), read once per request."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "aftercare-notify"
        timeout = 30
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            log.debug(
                "http request",
                extra={"client": self.client_address[0], "request": redact(self.requestline)},
            )

        def _send(
            self,
            status: int,
            body: bytes,
            content_type="text/plain; charset=utf-8",
            headers: dict | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for k, v in {**web.current.extra_headers, **(headers or {})}.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _authorized(self) -> bool:
            webcfg = web.current
            if webcfg.auth_required and not webcfg.check_basic_auth(
                self.headers.get("Authorization")
            ):
                self._send(
                    401, b"Unauthorized\n", headers={"WWW-Authenticate": 'Basic realm="aftercare"'}
                )
                return False
            return True

        def _body(self) -> bytes | None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0 or length > MAX_BODY:
                self.close_connection = True
                return None
            return self.rfile.read(length) if length else b""

        def do_GET(self):
            if not self._authorized():
                return
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
                self._send(200, encoder(notifier.registry), content_type)
            elif path == "/-/healthy":
                self._send(200, b"Healthy.\n")
            elif path == "/-/ready":
                ready = notifier.notify is not None
                self._send(200 if ready else 503, b"Ready.\n" if ready else b"Not ready.\n")
            elif path == "/":
                self._send(
                    200,
                    b"aftercare-notify: POST /notify/<channel> (Alertmanager "
                    b"webhook), /metrics, /-/healthy, /-/ready, POST /-/reload\n",
                )
            else:
                self._send(404, b"Not Found\n")

        do_HEAD = do_GET

        def do_POST(self):
            body = self._body()
            if not self._authorized():
                return
            path = self.path.split("?", 1)[0]
            if path == "/-/reload":
                ok, message = reload_all(notifier, web)
                self._send(200 if ok else 500, (redact(message) + "\n").encode())
                return
            prefix, _, name = path.partition("/notify/")
            if prefix or not name:
                self._send(404, b"Not Found\n")
                return
            if name not in notifier.workers:
                notifier.count(UNKNOWN, "unknown_channel")
                log.warning(
                    "notification for an unknown channel",
                    extra={"channel": name[:64], "known": ",".join(notifier.workers)},
                )
                self._send(404, b"unknown channel\n")
                return
            if body is None:
                notifier.count(name, "invalid")
                self._send(413, b"body too large or without a length\n")
                return
            problem: str | None
            try:
                payload = json.loads(body)
            except ValueError:
                payload = None
                problem = "the body is not JSON"
            else:
                problem = malformed(payload)
            if problem:
                notifier.count(name, "invalid")
                log.warning(
                    "malformed notification; nothing spooled",
                    extra={"channel": name, "problem": problem},
                )
                self._send(400, f"malformed Alertmanager notification: {problem}\n".encode())
                return
            try:
                fresh = notifier.accept(name, payload)
            except OSError as err:
                log.error(
                    "cannot spool the notification", extra={"channel": name, "err": err.strerror}
                )
                self._send(500, b"cannot spool the notification\n")
                return
            self._send(200, b"queued\n" if fresh else b"duplicate\n")

    return Handler
