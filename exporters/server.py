"""The exporter process: config (re)loading and the HTTP endpoints.

Endpoints: ``/metrics`` (scrape), ``/-/healthy``, ``/-/ready``, ``POST /-/reload``
and an index page.  With ``--web.config.file`` every endpoint requires the
configured basic auth, and TLS is served when configured.
"""

from __future__ import annotations

import dataclasses
import gzip
import html
import logging
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder

from .config import Config, ConfigError, Secret, load_config
from .listen import ListenAddress, bind
from .logsetup import redact
from .metrics import LOG_NAME, safe_error
from .runtime import Area, Scraper, WorkerPool
from .version import BuildInfoCollector
from .webconfig import WebConfig, load_web_config

log = logging.getLogger(LOG_NAME)
SCRAPE_TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"
SCRAPE_MARGIN = 0.5  # seconds kept back from Prometheus's scrape timeout


def config_secrets(value) -> list[str]:
    """Every secret value held anywhere in a config object."""
    if isinstance(value, Secret):
        return [value.reveal()]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [
            s for f in dataclasses.fields(value) for s in config_secrets(getattr(value, f.name))
        ]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in config_secrets(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in config_secrets(v)]
    return []


class LiveWebConfig:
    """The web config in force: re-read on reload and swapped only when the new one is valid.

    Requests and new connections read ``current`` once each, so a renewed
    certificate or a changed basic-auth user applies from the next connection
    or request; a bad new file keeps the previous config in force.
    """

    def __init__(self, file: str | None):
        self.file = file
        self.current: WebConfig = load_web_config(file)  # ConfigError at start: exit 2

    def reload(self) -> tuple[bool, str]:
        if self.file is None:
            return True, "no web config"
        try:
            new = load_web_config(self.file)
        except Exception as err:  # ConfigError, or an unexpected failure reading it
            message = str(err) if isinstance(err, ConfigError) else safe_error(err)
            log.error(
                "web config reload failed; keeping the previous one",
                extra={"file": self.file, "err": message},
            )
            return False, message
        self.current = new
        log.info("web config loaded", extra={"file": self.file, "web": new.describe()})
        return True, "web config reloaded"


class Exporter:
    """Serves a set of areas from one config file; reloads it (and the web config) on demand."""

    def __init__(
        self, config_file: str, area_classes: list[type[Area]], web: LiveWebConfig | None = None
    ):
        self.config_file = config_file
        self.area_classes = area_classes
        self.web = web
        self._lock = threading.Lock()
        self._reload_lock = threading.Lock()  # SIGHUP and POST /-/reload one at a time
        self.scraper: Scraper | None = None
        self.config: Config | None = None
        self.reload_ok = True
        self.reload_ok_time = 0.0
        self._pool = WorkerPool()  # kept across reloads: collections reuse its threads
        self._registry = CollectorRegistry(auto_describe=False)
        ProcessCollector(registry=self._registry)
        PlatformCollector(registry=self._registry)
        self._registry.register(BuildInfoCollector())

    def _install(self, config: Config) -> None:
        redact.set_secrets(config_secrets(config))
        scraper = Scraper([cls(config) for cls in self.area_classes], self._pool)
        with self._lock:
            old, self.scraper, self.config = self.scraper, scraper, config
            self.reload_ok, self.reload_ok_time = True, time.time()
        if old:
            old.close()
        log.info(
            "config loaded",
            extra={"file": self.config_file, "targets": sum(len(a.targets) for a in scraper.areas)},
        )

    def load(self) -> None:
        """First load: a bad config raises ConfigError (the caller exits 2)."""
        self._install(load_config(self.config_file))

    def reload(self) -> tuple[bool, str]:
        """Re-read the config file and the web config; each one kept as it was when invalid."""
        with self._reload_lock:
            results = [self._reload_config()]
            if self.web is not None and self.web.file is not None:
                results.append(self.web.reload())
            ok = all(good for good, _ in results)
            with self._lock:
                self.reload_ok = ok
                if ok:
                    self.reload_ok_time = time.time()
            return ok, "; ".join(m for good, m in results if good == ok)

    def _reload_config(self) -> tuple[bool, str]:
        try:
            self._install(load_config(self.config_file))
        except Exception as err:  # ConfigError, or a target that cannot be built
            message = str(err) if isinstance(err, ConfigError) else safe_error(err)
            with self._lock:
                self.reload_ok = False
            log.error("config reload failed; keeping the previous config", extra={"err": message})
            return False, message
        return True, "config reloaded"

    def default_budget(self) -> float:
        scraper = self.scraper
        timeouts = [t.timeout for a in scraper.areas for t in a.targets] if scraper else []
        return max(timeouts, default=5.0)

    def collect(self, budget: float):
        """Families for one scrape (the object handed to the text encoder)."""
        exporter = self

        class _Scrape:
            def collect(self):
                yield from exporter._registry.collect()
                ok = GaugeMetricFamily(
                    "aftercare_config_last_reload_successful",
                    "1 if the last (re)load of the config file and the web "
                    "config succeeded, 0 if the last attempt failed and the "
                    "previous one is still in use.",
                )
                ok.add_metric([], 1.0 if exporter.reload_ok else 0.0)
                yield ok
                when = GaugeMetricFamily(
                    "aftercare_config_last_reload_success_timestamp_seconds",
                    "Unix time of the last successful config load.",
                )
                when.add_metric([], exporter.reload_ok_time)
                yield when
                scraper = exporter.scraper
                assert scraper is not None, "scrapes are served only after load()"
                yield from scraper.scrape(budget)

        return _Scrape()

    def close(self) -> None:
        if self.scraper:
            self.scraper.close()


class _Server(ThreadingHTTPServer):
    """Serves on an already bound socket; TLS per connection from the web config in force."""

    daemon_threads = True
    # listen backlog: socketserver's default of 5 drops the SYNs of a burst of
    # simultaneous scrapes, and the kernel retries them only a second later
    request_queue_size = 128

    def __init__(self, sock: socket.socket, handler, web: LiveWebConfig):
        self.address_family = sock.family
        self.web = web
        super().__init__(sock.getsockname(), handler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.server_name, self.server_port = sock.getsockname()[:2]
        try:
            self.server_activate()
        except OSError:
            self.server_close()
            raise

    @property
    def address(self) -> str:
        """host:port it listens on, [v6]:port for IPv6."""
        host, port = self.socket.getsockname()[:2]
        return f"[{host}]:{port}" if self.address_family == socket.AF_INET6 else f"{host}:{port}"

    def finish_request(self, request, client_address):
        # the TLS handshake runs in the request's own thread, so a slow or
        # silent client never blocks accepting the next connection; the context
        # is taken per connection, so a reloaded certificate serves the next one
        ssl_context = self.web.current.ssl_context()
        if ssl_context is not None:
            request.settimeout(10)
            try:
                request = ssl_context.wrap_socket(request, server_side=True)
            except (OSError, ValueError) as err:
                log.debug(
                    "TLS handshake failed",
                    extra={"client": client_address[0], "err": safe_error(err)},
                )
                request.close()
                return
        super().finish_request(request, client_address)


def make_handler(
    exporter: Exporter,
    web: LiveWebConfig,
    telemetry_path: str = "/metrics",
    title: str = "Aftercare exporter",
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "aftercare-exporter"
        timeout = 30
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # access log at debug level only
            log.debug(
                "http request",
                extra={"client": self.client_address[0], "request": redact(self.requestline)},
            )

        def _send(
            self,
            status: int,
            body: bytes,
            content_type: str = "text/plain; charset=utf-8",
            headers: dict | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for k, v in {**self.webcfg.extra_headers, **(headers or {})}.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _authorized(self) -> bool:
            webcfg = self.webcfg
            if webcfg.auth_required and not webcfg.check_basic_auth(
                self.headers.get("Authorization")
            ):
                self._send(
                    401, b"Unauthorized\n", headers={"WWW-Authenticate": 'Basic realm="aftercare"'}
                )
                return False
            return True

        def _route(self, method: str) -> Callable[[], None]:
            path = self.path.split("?", 1)[0]
            routes = {
                ("GET", telemetry_path): self._metrics,
                ("GET", "/-/healthy"): self._healthy,
                ("GET", "/-/ready"): self._ready,
                ("POST", "/-/reload"): self._reload,
                ("PUT", "/-/reload"): self._reload,
                ("GET", "/"): self._index,
            }
            if (method, path) in routes:
                return routes[(method, path)]
            if any(p == path for _, p in routes):
                return lambda: self._send(405, b"Method Not Allowed\n")
            return lambda: self._send(404, b"Not Found\n")

        def _handle(self, method: str) -> None:
            self.webcfg = web.current  # one web config for the whole request
            if self._authorized():
                self._route(method)()

        def do_GET(self):
            self._handle("GET")

        def do_HEAD(self):
            self._handle("GET")

        def do_POST(self):
            self._drain()
            self._handle("POST")

        def do_PUT(self):
            self._drain()
            self._handle("PUT")

        def _drain(self):
            length = int(self.headers.get("Content-Length") or 0)
            if 0 < length <= 1 << 16:
                self.rfile.read(length)

        def _metrics(self):
            budget = exporter.default_budget()
            header = self.headers.get(SCRAPE_TIMEOUT_HEADER)
            if header:
                try:
                    budget = max(0.1, float(header) - SCRAPE_MARGIN)
                except ValueError:
                    pass
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            body = encoder(exporter.collect(budget))
            headers = {}
            if "gzip" in self.headers.get("Accept-Encoding", ""):
                body, headers = gzip.compress(body, 1), {"Content-Encoding": "gzip"}
            self._send(200, body, content_type, headers)

        def _healthy(self):
            self._send(200, b"Healthy.\n")

        def _ready(self):
            ready = exporter.scraper is not None
            self._send(200 if ready else 503, b"Ready.\n" if ready else b"Not ready.\n")

        def _reload(self):
            ok, message = exporter.reload()
            self._send(200 if ok else 500, (redact(message) + "\n").encode())

        def _index(self):
            areas = ", ".join(a.name for a in exporter.scraper.areas) if exporter.scraper else ""
            body = (
                f"<html><head><title>{html.escape(title)}</title></head><body>"
                f"<h1>{html.escape(title)}</h1><p>Areas: {html.escape(areas)}</p><ul>"
                f"<li><a href='{telemetry_path}'>Metrics</a></li>"
                "<li><a href='/-/healthy'>Health</a></li><li><a href='/-/ready'>Readiness</a></li>"
                "</ul><p>POST /-/reload re-reads the config file and the web config.</p>"
                "</body></html>"
            )
            self._send(200, body.encode(), "text/html; charset=utf-8")

    return Handler


def make_servers(
    exporter: Exporter, addresses: list[ListenAddress], web: LiveWebConfig, **kw
) -> list[_Server]:
    """One server per listen address, all sharing the exporter and the web config.

    OSError (naming the address) when one cannot be bound; none is left open then.
    """
    handler = make_handler(exporter, web, **kw)
    servers: list[_Server] = []
    try:
        for address in addresses:
            try:
                servers.append(_Server(bind(address), handler, web))
            except OSError as err:
                raise ListenError(address, err) from None
    except ListenError:
        for server in servers:
            server.server_close()
        raise
    return servers


class ListenError(OSError):
    """A listen address that cannot be bound."""

    def __init__(self, address: ListenAddress, err: OSError):
        super().__init__(err.errno, err.strerror or str(err))
        self.address = address

    def __str__(self) -> str:
        return f"cannot listen on {self.address}: {self.strerror}"


def serve(servers: list[_Server], stop: threading.Event, poll_interval: float = 0.2) -> None:
    """Serve on every server, each in its own thread, until ``stop`` is set."""
    threads = [
        threading.Thread(
            target=s.serve_forever, args=(poll_interval,), name=f"listen {s.address}", daemon=True
        )
        for s in servers
    ]
    for thread in threads:
        thread.start()
    try:
        while not stop.wait(0.5):
            if not all(t.is_alive() for t in threads):  # pragma: no cover - a crashed loop
                raise RuntimeError("a listener stopped unexpectedly")
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
