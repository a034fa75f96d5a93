"""A webhook pager bridge for the compose stack: prints every Alertmanager notification.

Listens where alertmanager/alertmanager.yml sends pages (127.0.0.1:9099 in
the Alertmanager container's network namespace) and writes one line per alert
to stdout (`docker compose logs pager-1`).  Replace it with your real pager
bridge (SMS, phone, WeCom) in production.  Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def describe(path: str, body: dict) -> list[str]:
    """One line per alert of a notification."""
    lines = []
    for alert in body.get("alerts") or []:
        labels = alert.get("labels") or {}
        summary = (alert.get("annotations") or {}).get("summary", "")
        lines.append(
            f"PAGE {path} [{str(alert.get('status', '?')).upper()}] {labels.get('alertname')} "
            f"severity={labels.get('severity')} system={labels.get('system', '-')} {summary}"
        )
    return lines


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server API
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        for line in describe(self.path, body if isinstance(body, dict) else {}):
            print(line, flush=True)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server API
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pager", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--listen", default="127.0.0.1:9099", help="host:port (default 127.0.0.1:9099)"
    )
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    server = ThreadingHTTPServer((host, int(port)), Handler)
    print(f"pager bridge listening on {args.listen}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
