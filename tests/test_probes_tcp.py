"""The tcp prober (plain and with TLS) against real local listeners: an answering
server, a TLS server with the test PKI, a black hole and a closed port."""

from __future__ import annotations

import socket
import socketserver
import threading
import time

import pytest

from devstack.blackhole import BlackHole
from exporters.config import validate
from exporters.metrics import Sink
from exporters.probes import run_probe
from exporters.services import RESPONSE_SECONDS
from tests.test_probes_http import (  # noqa: F401  (chained and pki are fixtures used here)
    INTERMEDIATE_NOT_AFTER,
    LEAF_NOT_AFTER,
    chained,
    pki,
)


def tcp_check(spec: dict, timeout: str = "2s"):
    config = validate(
        {"systems": [{"name": "t", "services": [{"name": "svc", "timeout": timeout, "tcp": spec}]}]}
    )
    service = config.systems[0].services[0]
    return service.tcp, service.timeout


def probe(kind: str, check, seconds: float) -> tuple[Sink, dict]:
    sink = Sink()
    run_probe(kind, check, sink, seconds, RESPONSE_SECONDS)
    return sink, {(name,) + labels: value for name, labels, value in sink.samples}


class Greeter(socketserver.BaseRequestHandler):
    """Says hello, then answers PING with PONG."""

    def handle(self):
        self.request.sendall(b"220 test server ready\r\n")
        if self.request.recv(64).startswith(b"PING"):
            self.request.sendall(b"PONG\r\n")


@pytest.fixture(scope="module")
def greeter():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Greeter)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_connect_only(greeter):
    sink, v = probe("tcp", *tcp_check({"address": greeter}))
    assert sink.up is True
    assert v[("aftercare_service_response_seconds",)] > 0


def test_send_and_expect(greeter):
    sink, _ = probe("tcp", *tcp_check({"address": greeter, "send": "PING\r\n", "expect": "PONG"}))
    assert sink.up is True, sink.error


def test_expect_banner_mismatch_is_content(greeter):
    sink, _ = probe("tcp", *tcp_check({"address": greeter, "expect": "^SSH-2.0"}, "500ms"))
    assert (sink.up, sink.reason) == (False, "content")


def test_closed_port_is_connect():
    sink, _ = probe("tcp", *tcp_check({"address": f"127.0.0.1:{closed_port()}"}))
    assert (sink.up, sink.reason) == (False, "connect")


def test_black_hole_with_expect_is_timeout_within_timeout():
    with BlackHole() as hole:
        start = time.monotonic()
        sink, _ = probe("tcp", *tcp_check({"address": hole.address, "expect": "ready"}, "500ms"))
        took = time.monotonic() - start
    assert (sink.up, sink.reason) == (False, "timeout")
    assert 0.4 < took < 0.8


def test_black_hole_tls_handshake_is_timeout():
    with BlackHole() as hole:
        sink, _ = probe("tcp", *tcp_check({"address": hole.address, "tls": True}, "500ms"))
    assert (sink.up, sink.reason) == (False, "timeout")


def test_invalid_name_is_dns():
    sink, _ = probe("tcp", *tcp_check({"address": "db.aftercare.invalid:5432"}))
    assert (sink.up, sink.reason) == (False, "dns")


def test_tcp_tls_reports_both_expiries(chained, pki):  # noqa: F811
    port = chained.httpd.server_address[1]
    sink, v = probe(
        "tcp",
        *tcp_check({"address": f"localhost:{port}", "tls": True, "ca_file": str(pki["root"])}),
    )
    assert sink.up is True, sink.error
    assert v[("aftercare_tls_leaf_cert_expiry_timestamp_seconds",)] == LEAF_NOT_AFTER.timestamp()
    assert v[("aftercare_tls_cert_expiry_timestamp_seconds",)] == INTERMEDIATE_NOT_AFTER.timestamp()


def test_tcp_tls_untrusted_is_tls(chained):  # noqa: F811
    port = chained.httpd.server_address[1]
    sink, _ = probe("tcp", *tcp_check({"address": f"localhost:{port}", "tls": True}))
    assert (sink.up, sink.reason) == (False, "tls")


def test_tcp_tls_against_plain_tcp_is_tls(greeter):
    sink, _ = probe("tcp", *tcp_check({"address": greeter, "tls": True, "tls_verify": False}))
    assert (sink.up, sink.reason) == (False, "tls")
