"""The demo system's web app: a fast /health, a slow /slow and /orders reading the demo database.

Writes an application log (INFO/WARN/ERROR lines) and an access log in the
combined format, so that the services and logs areas have something to read.
Standard library only, plus psycopg2 for /orders when --dsn is given.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="demo-app", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--listen", default="127.0.0.1:8080", help="host:port (default 127.0.0.1:8080)"
    )
    parser.add_argument("--slow", type=float, default=1.2, help="seconds /slow takes (default 1.2)")
    parser.add_argument("--dsn", help="PostgreSQL URL of the demo database, for /orders")
    parser.add_argument("--log", type=Path, help="application log file (default: stderr)")
    parser.add_argument("--access-log", type=Path, help="access log file, combined format")
    return parser.parse_args(argv)


def make_handler(args: argparse.Namespace, log: logging.Logger):
    access = open(args.access_log, "a", buffering=1) if args.access_log else None

    class Handler(BaseHTTPRequestHandler):
        server_version = "demo-app/1"

        def _answer(self, status: int, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            if access:
                stamp = time.strftime("%d/%b/%Y:%H:%M:%S %z")
                access.write(
                    f'{self.client_address[0]} - - [{stamp}] "{self.command} {self.path} '
                    f'HTTP/1.1" {status} {len(data)} "-" "{self.headers.get("User-Agent", "-")}"\n'
                )

        def do_GET(self) -> None:  # noqa: N802 - http.server API
            started = time.monotonic()
            if self.path == "/health":
                self._answer(200, "ok\n")
            elif self.path == "/slow":
                time.sleep(args.slow)
                log.warning("slow request /slow took %.1fs", time.monotonic() - started)
                self._answer(200, "finally\n")
            elif self.path == "/orders":
                self._orders()
            else:
                self._answer(404, "not found\n")
            log.info("GET %s %.3fs", self.path, time.monotonic() - started)

        def _orders(self) -> None:
            if not args.dsn:
                self._answer(503, "no database configured\n")
                return
            try:
                import psycopg2

                with psycopg2.connect(args.dsn, connect_timeout=2) as conn, conn.cursor() as cur:
                    cur.execute("SELECT count(*) FROM orders")
                    count = cur.fetchone()[0]
                conn.close()
                self._answer(200, f"{count} orders\n")
            except Exception as err:  # noqa: BLE001 - any database failure is a 503
                log.error("orders: database error: %s", type(err).__name__)
                self._answer(503, "database unavailable\n")

        def log_message(self, format: str, *a) -> None:  # noqa: A002 - http.server API
            pass

    return Handler


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    handler = logging.FileHandler(args.log) if args.log else logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log = logging.getLogger("demo-app")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    host, _, port = args.listen.rpartition(":")
    server = ThreadingHTTPServer((host or "0.0.0.0", int(port)), make_handler(args, log))
    server.daemon_threads = True
    log.info("demo app listening on %s", args.listen)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
