"""The http prober against real local HTTP and HTTPS servers started here.

HTTPS uses certificates made by the test with known notAfter: a chain
root CA -> intermediate -> leaf where the intermediate expires first, so the
chain's earliest expiry and the leaf's differ.
"""

from __future__ import annotations

import datetime as dt
import http.server
import ssl
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devstack.blackhole import BlackHole
from exporters.config import validate
from exporters.metrics import Sink
from exporters.probes import run_probe
from exporters.services import RESPONSE_SECONDS

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
ROOT_NOT_AFTER = NOW + dt.timedelta(days=3650)
INTERMEDIATE_NOT_AFTER = NOW + dt.timedelta(days=40)
LEAF_NOT_AFTER = NOW + dt.timedelta(days=90)
SELF_SIGNED_NOT_AFTER = NOW + dt.timedelta(days=12)


def http_check(spec: dict, timeout: str = "2s"):
    config = validate(
        {
            "systems": [
                {"name": "t", "services": [{"name": "svc", "timeout": timeout, "http": spec}]}
            ]
        }
    )
    service = config.systems[0].services[0]
    return service.http, service.timeout


def probe(spec: dict, timeout: str = "2s") -> tuple[Sink, dict]:
    check, seconds = http_check(spec, timeout)
    sink = Sink()
    run_probe("http", check, sink, seconds, RESPONSE_SECONDS)
    values = {(name,) + labels: value for name, labels, value in sink.samples}
    return sink, values


# --- servers -------------------------------------------------------------------


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        routes = {
            "/ok": (200, {}, b"all services healthy\n"),
            "/missing": (404, {}, b"no such page\n"),
            "/error": (500, {}, b"internal error\n"),
            "/moved": (302, {"Location": "/ok"}, b""),
            "/loop": (302, {"Location": "/loop"}, b""),
            "/echo-header": (200, {}, self.headers.get("X-Probe", "").encode()),
        }
        if self.path == "/slow":
            time.sleep(3)
        status, headers, body = routes.get(self.path, (200, {}, b"slow\n"))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET


class Server:
    def __init__(self, context: ssl.SSLContext | None = None):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if context:
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        scheme = "https" if isinstance(self.httpd.socket, ssl.SSLSocket) else "http"
        return f"{scheme}://{host}:{self.httpd.server_address[1]}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def make_cert(subject: str, key, issuer_name, issuer_key, not_after, ca: bool, san: bool = False):
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer_name or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    if issuer_key is not None and issuer_key is not key:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    if san:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False
        )
    return builder.sign(issuer_key or key, hashes.SHA256())


def pem(*certs) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """root CA -> intermediate -> leaf, and a self-signed certificate; as files."""
    d = tmp_path_factory.mktemp("pki")
    root_key, inter_key, leaf_key, self_key = (
        ec.generate_private_key(ec.SECP256R1()) for _ in range(4)
    )
    root = make_cert("Aftercare Test Root", root_key, None, root_key, ROOT_NOT_AFTER, ca=True)
    inter = make_cert(
        "Aftercare Test Intermediate",
        inter_key,
        root.subject,
        root_key,
        INTERMEDIATE_NOT_AFTER,
        ca=True,
    )
    leaf = make_cert(
        "localhost", leaf_key, inter.subject, inter_key, LEAF_NOT_AFTER, ca=False, san=True
    )
    selfsigned = make_cert(
        "localhost", self_key, None, self_key, SELF_SIGNED_NOT_AFTER, ca=False, san=True
    )
    files = {
        "root": pem(root),
        "chain": pem(leaf, inter),
        "leaf_key": key_pem(leaf_key),
        "self": pem(selfsigned),
        "self_key": key_pem(self_key),
    }
    paths = {}
    for name, data in files.items():
        paths[name] = d / f"{name}.pem"
        paths[name].write_bytes(data)
    return paths


def server_context(cert, key) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture(scope="module")
def plain():
    server = Server()
    yield server
    server.close()


@pytest.fixture(scope="module")
def chained(pki):
    server = Server(server_context(pki["chain"], pki["leaf_key"]))
    yield server
    server.close()


@pytest.fixture(scope="module")
def selfsigned(pki):
    server = Server(server_context(pki["self"], pki["self_key"]))
    yield server
    server.close()


# --- plain HTTP --------------------------------------------------------------------


def test_ok_with_status_body_and_phases(plain):
    sink, v = probe({"url": plain.url("/ok"), "body_regex": "healthy"})
    assert (sink.up, sink.reason) == (True, None)
    assert v[("aftercare_http_status_code",)] == 200
    assert v[("aftercare_http_content_length_bytes",)] == len(b"all services healthy\n")
    phases = {k[1]: val for k, val in v.items() if k[0] == "aftercare_http_phase_seconds"}
    assert set(phases) == {"resolve", "connect", "tls", "processing", "transfer"}
    assert phases["tls"] == 0 and phases["processing"] > 0
    assert 0 < v[("aftercare_service_response_seconds",)] >= sum(phases.values()) * 0.99


def test_unexpected_status_is_status(plain):
    sink, v = probe({"url": plain.url("/error")})
    assert (sink.up, sink.reason) == (False, "status")
    assert v[("aftercare_http_status_code",)] == 500
    assert ("aftercare_service_response_seconds",) not in v


def test_expected_status_list(plain):
    sink, _ = probe({"url": plain.url("/missing"), "expect_status": [404]})
    assert sink.up is True
    sink, _ = probe({"url": plain.url("/ok"), "expect_status": [404]})
    assert (sink.up, sink.reason) == (False, "status")


def test_body_mismatch_is_content(plain):
    sink, _ = probe({"url": plain.url("/ok"), "body_regex": "^down"})
    assert (sink.up, sink.reason) == (False, "content")


def test_redirect_followed_and_counted(plain):
    sink, v = probe({"url": plain.url("/moved"), "body_regex": "healthy"})
    assert sink.up is True
    assert v[("aftercare_http_redirects",)] == 1
    assert v[("aftercare_http_status_code",)] == 200


def test_redirect_not_followed_when_disabled(plain):
    sink, v = probe({"url": plain.url("/moved"), "follow_redirects": False, "expect_status": [302]})
    assert sink.up is True and v[("aftercare_http_status_code",)] == 302


def test_redirect_loop_is_status(plain):
    sink, v = probe({"url": plain.url("/loop")})
    assert (sink.up, sink.reason) == (False, "status")
    assert v[("aftercare_http_redirects",)] == 11


def test_request_headers_are_sent(plain):
    sink, _ = probe(
        {
            "url": plain.url("/echo-header"),
            "headers": {"X-Probe": "marker-42"},
            "body_regex": "^marker-42$",
        }
    )
    assert sink.up is True


def test_head_method(plain):
    sink, v = probe({"url": plain.url("/ok"), "method": "HEAD"})
    assert sink.up is True and v[("aftercare_http_content_length_bytes",)] == 0


def test_slow_answer_is_timeout_within_the_timeout(plain):
    start = time.monotonic()
    sink, _ = probe({"url": plain.url("/slow")}, timeout="500ms")
    assert (sink.up, sink.reason) == (False, "timeout")
    assert time.monotonic() - start < 0.8


def test_black_hole_is_timeout_costing_the_timeout_only():
    with BlackHole() as hole:
        start = time.monotonic()
        sink, _ = probe({"url": f"http://{hole.address}/"}, timeout="700ms")
        took = time.monotonic() - start
    assert (sink.up, sink.reason) == (False, "timeout")
    assert 0.6 < took < 1.0


def test_closed_port_is_connect(plain):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    sink, _ = probe({"url": f"http://127.0.0.1:{port}/"})
    assert (sink.up, sink.reason) == (False, "connect")


def test_invalid_name_is_dns():
    start = time.monotonic()
    sink, _ = probe({"url": "http://service.aftercare.invalid/health"})
    assert (sink.up, sink.reason) == (False, "dns")
    assert time.monotonic() - start < 0.1  # answered without asking a name server


# --- HTTPS and certificates ------------------------------------------------------------


def test_chain_expiry_is_earliest_of_verified_chain_and_leaf_its_own(chained, pki):
    sink, v = probe({"url": chained.url("/ok", host="localhost"), "ca_file": str(pki["root"])})
    assert sink.up is True, sink.error
    assert v[("aftercare_tls_leaf_cert_expiry_timestamp_seconds",)] == LEAF_NOT_AFTER.timestamp()
    assert v[("aftercare_tls_cert_expiry_timestamp_seconds",)] == INTERMEDIATE_NOT_AFTER.timestamp()
    assert v[("aftercare_http_phase_seconds", "tls")] > 0


def test_unknown_ca_is_tls(chained):
    sink, v = probe({"url": chained.url("/ok", host="localhost")})
    assert (sink.up, sink.reason) == (False, "tls")
    assert "certificate" in sink.error


def test_host_name_mismatch_is_tls(chained, pki):
    # the leaf names localhost only
    sink, _ = probe({"url": chained.url("/ok", host="127.0.0.1"), "ca_file": str(pki["root"])})
    assert (sink.up, sink.reason) == (False, "tls")


def test_self_signed_without_verification_reports_leaf_expiry(selfsigned):
    sink, v = probe({"url": selfsigned.url("/ok"), "tls_verify": False})
    assert sink.up is True, sink.error
    assert (
        v[("aftercare_tls_leaf_cert_expiry_timestamp_seconds",)]
        == SELF_SIGNED_NOT_AFTER.timestamp()
    )
    assert v[("aftercare_tls_cert_expiry_timestamp_seconds",)] == SELF_SIGNED_NOT_AFTER.timestamp()


def test_self_signed_trusted_by_ca_file(selfsigned, pki):
    sink, v = probe({"url": selfsigned.url("/ok", host="localhost"), "ca_file": str(pki["self"])})
    assert sink.up is True, sink.error
    assert v[("aftercare_tls_cert_expiry_timestamp_seconds",)] == SELF_SIGNED_NOT_AFTER.timestamp()


def test_plain_http_to_tls_port_is_not_up(selfsigned):
    sink, _ = probe({"url": selfsigned.url("/ok").replace("https://", "http://")})
    assert sink.up is False and sink.reason in ("content", "connect")
