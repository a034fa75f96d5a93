"""exporters.webconfig: the exporter-toolkit web config, served for real.

A throw-away PKI (CA, server certificate for 127.0.0.1, client certificates)
is made with ``cryptography``; a ThreadingHTTPServer wrapped with the loaded
SSL context answers ``requests`` and raw ``ssl`` clients.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import ipaddress
import socket
import ssl
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import bcrypt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from exporters.schema import ConfigError
from exporters.webconfig import WebConfig, load_web_config

PASSWORD = "s3cret-Pa55word"
FAST_HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
# A hash in the Go / htpasswd form ($2y$, cost 10) of the password "fakepassword",
# as published in the exporter-toolkit sources.
HTPASSWD_HASH = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"


# --- a small PKI -------------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject_key, cn, issuer_key, issuer_name, *, ca=False, sans=(), usage=None):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer_name or _name(cn))
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write_key(path: Path, key, password: bytes | None = None) -> Path:
    enc = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
    )
    return path


def _write_cert(path: Path, cert) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


class PKI:
    def __init__(self, d: Path):
        self.dir = d
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _cert(ca_key, "aftercare test CA", ca_key, None, ca=True)
        self.ca = _write_cert(d / "ca.crt", ca)

        server_key = ec.generate_private_key(ec.SECP256R1())
        self.server_key = _write_key(d / "server.key", server_key)
        self.server_crt = _write_cert(
            d / "server.crt",
            _cert(
                server_key,
                "127.0.0.1",
                ca_key,
                ca.subject,
                sans=[x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")],
                usage=ExtendedKeyUsageOID.SERVER_AUTH,
            ),
        )
        self.server_key_encrypted = _write_key(d / "server-enc.key", server_key, b"key-passphrase")

        client_key = ec.generate_private_key(ec.SECP256R1())
        self.client_key = _write_key(d / "client.key", client_key)
        self.client_crt = _write_cert(
            d / "client.crt",
            _cert(
                client_key,
                "prometheus",
                ca_key,
                ca.subject,
                sans=[
                    x509.DNSName("prometheus.example"),
                    x509.UniformResourceIdentifier("spiffe://example/prometheus"),
                ],
                usage=ExtendedKeyUsageOID.CLIENT_AUTH,
            ),
        )

        # a client certificate from a CA the server does not trust
        rogue_ca_key = ec.generate_private_key(ec.SECP256R1())
        rogue_ca = _cert(rogue_ca_key, "rogue CA", rogue_ca_key, None, ca=True)
        rogue_key = ec.generate_private_key(ec.SECP256R1())
        self.rogue_key = _write_key(d / "rogue.key", rogue_key)
        self.rogue_crt = _write_cert(
            d / "rogue.crt",
            _cert(
                rogue_key,
                "prometheus",
                rogue_ca_key,
                rogue_ca.subject,
                sans=[x509.DNSName("prometheus.example")],
                usage=ExtendedKeyUsageOID.CLIENT_AUTH,
            ),
        )


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> PKI:
    return PKI(tmp_path_factory.mktemp("pki"))


def write_web(directory: Path, text: str, name: str = "web.yml") -> str:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- a real server -------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, webcfg: WebConfig, handshake_on_connect: bool = True):
        self.webcfg = webcfg
        self.handshake_on_connect = handshake_on_connect
        self.ctx = webcfg.ssl_context()
        super().__init__(("127.0.0.1", 0), _Handler)

    def finish_request(self, request, client_address):
        if self.ctx is not None:  # handshake in the request's own thread
            request.settimeout(5)
            try:
                request = self.ctx.wrap_socket(
                    request, server_side=True, do_handshake_on_connect=self.handshake_on_connect
                )
            except (OSError, ValueError):
                request.close()
                return
        try:
            super().finish_request(request, client_address)
        except (OSError, ValueError):  # a handshake left to the first read failed
            request.close()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        webcfg = self.server.webcfg
        if webcfg.auth_required and not webcfg.check_basic_auth(self.headers.get("Authorization")):
            status, body, headers = 401, b"unauthorized\n", webcfg.unauthorized_headers()
        else:
            status, body, headers = 200, b"ok\n", {}
        self.send_response(status)
        for name, value in {**webcfg.extra_headers, **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def serving(webcfg: WebConfig, handshake_on_connect: bool = True):
    server = _Server(webcfg, handshake_on_connect)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        scheme = "https" if webcfg.ssl_context() else "http"
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}/metrics"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def raw_tls_client(
    url: str, ca: Path, *, max_version=None, min_version=None, cert: tuple[Path, Path] | None = None
) -> tuple[str, str, str]:
    """A handshake plus one request with a plain ssl client: (TLS version, cipher, status line)."""
    ctx = ssl.create_default_context(cafile=str(ca))
    if max_version:
        ctx.maximum_version = max_version
    if min_version:
        ctx.minimum_version = min_version
    if cert:
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    port = int(url.split(":")[2].split("/")[0])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            data = tls.recv(1024)
            return tls.version(), tls.cipher()[0], data.split(b"\r\n", 1)[0].decode()


# --- serving: TLS, basic auth, client certificates -----------------------------------------


def test_tls_and_basic_auth_end_to_end(pki, tmp_path):
    path = write_web(
        pki.dir,
        f"""
        tls_server_config:
          cert_file: server.crt
          key_file: server.key
        http_server_config:
          http2: true
          headers:
            X-Content-Type-Options: nosniff
            X-Frame-Options: deny
            Strict-Transport-Security: ""
        basic_auth_users:
          alice: {FAST_HASH}
          go-user: "{HTPASSWD_HASH}"
        """,
        name="web-basic.yml",
    )
    webcfg = load_web_config(path)
    assert webcfg.auth_required
    assert webcfg.describe() == "TLS on (TLS12-TLS13), client auth NoClientCert, basic auth 2 users"
    assert webcfg.extra_headers == {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "deny"}
    with serving(webcfg) as url:
        ok = requests.get(url, verify=pki.ca, auth=("alice", PASSWORD), timeout=5)
        assert ok.status_code == 200 and ok.text == "ok\n"
        assert ok.headers["X-Content-Type-Options"] == "nosniff"
        assert ok.headers["X-Frame-Options"] == "deny"
        assert "Strict-Transport-Security" not in ok.headers
        # a $2y$ hash as written by htpasswd or Go tools
        assert (
            requests.get(
                url, verify=pki.ca, auth=("go-user", "fakepassword"), timeout=5
            ).status_code
            == 200
        )

        for auth in (None, ("alice", "wrong"), ("mallory", PASSWORD), ("ALICE", PASSWORD)):
            denied = requests.get(url, verify=pki.ca, auth=auth, timeout=5)
            assert denied.status_code == 401, auth
            assert denied.headers["WWW-Authenticate"] == 'Basic realm="aftercare"'

        # a client that does not trust our CA refuses the server
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(url, auth=("alice", PASSWORD), timeout=5)
        # plain HTTP to the TLS port gets nowhere
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(url.replace("https:", "http:"), timeout=5)


def test_require_and_verify_client_cert(pki):
    path = write_web(
        pki.dir,
        """
        tls_server_config:
          cert_file: server.crt
          key_file: server.key
          client_auth_type: RequireAndVerifyClientCert
          client_ca_file: ca.crt
        """,
        name="web-mtls.yml",
    )
    webcfg = load_web_config(path)
    assert not webcfg.auth_required and webcfg.check_basic_auth(None)
    assert webcfg.describe() == (
        "TLS on (TLS12-TLS13), client auth RequireAndVerifyClientCert, basic auth off"
    )
    with serving(webcfg) as url:
        assert (
            requests.get(
                url, verify=pki.ca, cert=(pki.client_crt, pki.client_key), timeout=5
            ).status_code
            == 200
        )
        # no client certificate: the handshake is refused (TLS 1.2 shows it during the handshake)
        with pytest.raises(ssl.SSLError):
            raw_tls_client(url, pki.ca, max_version=ssl.TLSVersion.TLSv1_2)
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(url, verify=pki.ca, timeout=5)
        # a certificate from another CA is refused too
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(url, verify=pki.ca, cert=(pki.rogue_crt, pki.rogue_key), timeout=5)


def test_verify_client_cert_if_given(pki):
    path = write_web(
        pki.dir,
        """
        tls_server_config:
          cert_file: server.crt
          key_file: server.key
          client_auth_type: VerifyClientCertIfGiven
          client_ca_file: ca.crt
        """,
        name="web-ifgiven.yml",
    )
    with serving(load_web_config(path)) as url:
        assert requests.get(url, verify=pki.ca, timeout=5).status_code == 200
        assert (
            requests.get(
                url, verify=pki.ca, cert=(pki.client_crt, pki.client_key), timeout=5
            ).status_code
            == 200
        )
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(url, verify=pki.ca, cert=(pki.rogue_crt, pki.rogue_key), timeout=5)


@pytest.mark.parametrize("handshake_on_connect", [True, False], ids=["explicit", "implicit"])
@pytest.mark.parametrize(
    "sans, allowed",
    [
        (["prometheus.example"], True),
        (["spiffe://example/prometheus"], True),
        (["other.example", "127.0.0.2"], False),
    ],
)
def test_client_allowed_sans(pki, sans, allowed, handshake_on_connect):
    path = write_web(
        pki.dir,
        f"""
        tls_server_config:
          cert_file: server.crt
          key_file: server.key
          client_auth_type: RequireAndVerifyClientCert
          client_ca_file: ca.crt
          client_allowed_sans: {sans}
        """,
        name="web-sans.yml",
    )
    webcfg = load_web_config(path)
    assert f"({len(sans)} allowed SAN" in webcfg.describe()
    with serving(webcfg, handshake_on_connect) as url:
        if allowed:
            assert (
                requests.get(
                    url, verify=pki.ca, cert=(pki.client_crt, pki.client_key), timeout=5
                ).status_code
                == 200
            )
        else:
            with pytest.raises(requests.exceptions.ConnectionError):
                requests.get(url, verify=pki.ca, cert=(pki.client_crt, pki.client_key), timeout=5)


def test_min_version_tls13_refuses_a_tls12_client(pki):
    path = write_web(
        pki.dir,
        """
        tls_server_config:
          cert_file: server.crt
          key_file: server.key
          min_version: TLS13
        """,
        name="web-tls13.yml",
    )
    webcfg = load_web_config(path)
    with serving(webcfg) as url:
        with pytest.raises(ssl.SSLError):
            raw_tls_client(url, pki.ca, max_version=ssl.TLSVersion.TLSv1_2)
        version, _, status = raw_tls_client(url, pki.ca)
        assert (version, status) == ("TLSv1.3", "HTTP/1.0 200 OK")


def test_max_version_and_cipher_suites_apply(pki):
    path = write_web(
        pki.dir,
        """
        tls_server_config:
          cert_file: server.crt
          key_file: server.key
          max_version: TLS12
          cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256]
          prefer_server_cipher_suites: true
          curve_preferences: [CurveP384]
        """,
        name="web-ciphers.yml",
    )
    with serving(load_web_config(path)) as url:
        version, cipher, status = raw_tls_client(url, pki.ca)
        assert (version, cipher, status) == (
            "TLSv1.2",
            "ECDHE-ECDSA-AES256-GCM-SHA384",
            "HTTP/1.0 200 OK",
        )
        with pytest.raises(ssl.SSLError):  # the server stops at TLS 1.2
            raw_tls_client(url, pki.ca, min_version=ssl.TLSVersion.TLSv1_3)


def test_inline_pem_and_relative_paths(pki, tmp_path, monkeypatch):
    def indent(p: Path) -> str:
        return textwrap.indent(p.read_text(), " " * 16)

    path = write_web(
        pki.dir,
        f"""
        tls_server_config:
          cert: |
{indent(pki.server_crt)}
          key: |
{indent(pki.server_key)}
          client_auth_type: RequireAndVerifyClientCert
          client_ca: |
{indent(pki.ca)}
        """,
        name="web-inline.yml",
    )
    webcfg = load_web_config(path)
    key_body = pki.server_key.read_text().splitlines()[1]
    assert key_body not in repr(webcfg) and key_body not in repr(webcfg.tls)
    with serving(webcfg) as url:
        assert (
            requests.get(
                url, verify=pki.ca, cert=(pki.client_crt, pki.client_key), timeout=5
            ).status_code
            == 200
        )

    # relative file names are resolved against the web config's directory, not the cwd
    conf_dir = tmp_path / "conf"
    (conf_dir / "tls").mkdir(parents=True)
    (conf_dir / "tls" / "a.crt").write_bytes(pki.server_crt.read_bytes())
    (conf_dir / "tls" / "a.key").write_bytes(pki.server_key.read_bytes())
    path = write_web(
        conf_dir,
        """
        tls_server_config: {cert_file: tls/a.crt, key_file: tls/a.key}
        """,
    )
    monkeypatch.chdir(tmp_path)
    assert load_web_config(path).tls.cert_file == str(conf_dir / "tls" / "a.crt")
    assert load_web_config("conf/web.yml").ssl_context() is not None


def test_no_web_config_and_empty_file(tmp_path):
    for webcfg in (load_web_config(None), load_web_config(write_web(tmp_path, ""))):
        assert webcfg.ssl_context() is None
        assert not webcfg.auth_required
        assert webcfg.check_basic_auth(None) is True
        assert webcfg.extra_headers == {}
        assert webcfg.describe() == "TLS off, basic auth off"
    # basic auth over plain HTTP works too
    webcfg = load_web_config(write_web(tmp_path, f"basic_auth_users: {{alice: '{FAST_HASH}'}}\n"))
    assert webcfg.describe() == "TLS off, basic auth 1 user"
    with serving(webcfg) as url:
        assert requests.get(url, auth=("alice", PASSWORD), timeout=5).status_code == 200
        assert requests.get(url, timeout=5).status_code == 401


# --- basic auth details ---------------------------------------------------------------------


def users_config(tmp_path: Path, **users: str) -> WebConfig:
    lines = "".join(f"  {u}: '{h}'\n" for u, h in users.items())
    return load_web_config(write_web(tmp_path, "basic_auth_users:\n" + lines))


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Basic",
        "Basic ",
        "Bearer abc",
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"alice").decode(),  # no colon
        "Basic " + base64.b64encode(f"alice:{PASSWORD}x".encode()).decode(),
        "Basic " + base64.b64encode(b":" + PASSWORD.encode()).decode(),
        "Basic "
        + base64.b64encode(b"alice:" + b"p" * 100).decode(),  # longer than bcrypt's 72 bytes
        "Basic " + "A" * 5000,
    ],
)
def test_check_basic_auth_rejects(tmp_path, header):
    assert users_config(tmp_path, alice=FAST_HASH).check_basic_auth(header) is False


def test_check_basic_auth_accepts_forms(tmp_path):
    webcfg = users_config(
        tmp_path, alice=FAST_HASH, bob=bcrypt.hashpw(b"pa:ss word", bcrypt.gensalt(4)).decode()
    )
    assert webcfg.check_basic_auth(basic("alice", PASSWORD))
    assert webcfg.check_basic_auth("basic " + basic("alice", PASSWORD)[6:])  # scheme any case
    assert webcfg.check_basic_auth("  " + basic("alice", PASSWORD) + " ")
    assert webcfg.check_basic_auth(basic("bob", "pa:ss word"))  # ':' in password


def test_cache_counts_and_speed(tmp_path):
    slow_hash = bcrypt.hashpw(b"slow-password", bcrypt.gensalt(rounds=12)).decode()
    webcfg = users_config(tmp_path, alice=FAST_HASH, carol=slow_hash)
    assert webcfg.cache_info() == (0, 0, 0, 1024)

    t0 = time.perf_counter()
    assert webcfg.check_basic_auth(basic("carol", "slow-password"))
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    assert webcfg.check_basic_auth(basic("carol", "slow-password"))
    second = time.perf_counter() - t0
    assert webcfg.cache_info()[:3] == (1, 1, 1)
    assert first > 20 * second, (first, second)

    # failures are cached too, separately from the right password
    assert not webcfg.check_basic_auth(basic("alice", "wrong"))
    assert not webcfg.check_basic_auth(basic("alice", "wrong"))
    assert webcfg.check_basic_auth(basic("alice", PASSWORD))
    assert webcfg.cache_info()[:3] == (2, 3, 3)

    # an unknown user still costs a bcrypt check (no user enumeration by timing)
    assert not webcfg.check_basic_auth(basic("mallory", "x"))
    assert webcfg.cache_info().misses == 4
    assert not webcfg.check_basic_auth(basic("mallory", "x"))
    assert webcfg.cache_info()[:2] == (3, 4)


def test_cache_is_bounded_and_thread_safe(tmp_path):
    path = write_web(tmp_path, f"basic_auth_users: {{alice: '{FAST_HASH}'}}\n")
    webcfg = load_web_config(path, auth_cache_size=3)
    for i in range(6):
        assert not webcfg.check_basic_auth(basic("alice", f"guess{i}"))
    assert webcfg.cache_info() == (0, 6, 3, 3)

    webcfg = load_web_config(path)
    results = []
    threads = [
        threading.Thread(
            target=lambda: results.append(webcfg.check_basic_auth(basic("alice", PASSWORD)))
        )
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 8
    assert webcfg.cache_info().misses == 1  # concurrent identical checks: one bcrypt


def test_secrets_never_shown(tmp_path):
    webcfg = users_config(tmp_path, alice=FAST_HASH)
    for text in (webcfg.describe(), repr(webcfg), str(webcfg)):
        assert FAST_HASH not in text and "$2" not in text


# --- bad web configs ---------------------------------------------------------------------------

SECRETS = (
    PASSWORD,
    FAST_HASH,
    FAST_HASH[7:],
    "hunter2-plain",
    "$6$rounds=5000$salt$",
    "MIGHAgEAMBMG",
)  # the start of a PKCS#8 EC key body

TLS = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"

BAD = [
    # (id, yaml, expected key path, expected words in the message)
    ("unknown top-level key", "tls_config: {}\n", ("tls_config",), "unknown key"),
    ("unknown tls key", TLS + "  certfile: x\n", ("tls_server_config", "certfile"), "unknown key"),
    ("top level not a mapping", "- a\n- b\n", (), "expected a mapping"),
    ("not yaml", "tls_server_config: [\n", (), "expected valid YAML"),
    (
        "duplicate user",
        f"basic_auth_users:\n  alice: '{FAST_HASH}'\n  alice: '{FAST_HASH}'\n",
        (),
        "appears twice",
    ),
    (
        "empty tls section",
        "tls_server_config: {}\n",
        ("tls_server_config", "cert_file"),
        "required",
    ),
    (
        "missing key_file",
        "tls_server_config:\n  cert_file: server.crt\n",
        ("tls_server_config", "key_file"),
        "required",
    ),
    (
        "missing cert_file",
        "tls_server_config:\n  key_file: server.key\n",
        ("tls_server_config", "cert_file"),
        "required",
    ),
    (
        "cert file does not exist",
        "tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n",
        ("tls_server_config", "cert_file"),
        "cannot read",
    ),
    (
        "cert file is a directory",
        "tls_server_config:\n  cert_file: .\n  key_file: server.key\n",
        ("tls_server_config", "cert_file"),
        "cannot read",
    ),
    (
        "cert file is not PEM",
        "tls_server_config:\n  cert_file: garbage.txt\n  key_file: server.key\n",
        ("tls_server_config", "cert_file"),
        "PEM certificate",
    ),
    (
        "empty cert file",
        "tls_server_config:\n  cert_file: empty.txt\n  key_file: server.key\n",
        ("tls_server_config", "cert_file"),
        "empty",
    ),
    (
        "key does not match",
        "tls_server_config:\n  cert_file: server.crt\n  key_file: client.key\n",
        ("tls_server_config", "key_file"),
        "matches the certificate",
    ),
    (
        "encrypted key",
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server-enc.key\n",
        ("tls_server_config", "key_file"),
        "encrypted",
    ),
    (
        "cert and cert_file",
        TLS + "  cert: '-----BEGIN CERTIFICATE-----'\n",
        ("tls_server_config", "cert"),
        "cannot both be set",
    ),
    (
        "inline key not PEM",
        "tls_server_config:\n  cert_file: server.crt\n  key: hunter2-plain\n",
        ("tls_server_config", "key"),
        "PEM text",
    ),
    (
        "bad client_auth_type",
        TLS + "  client_auth_type: Required\n",
        ("tls_server_config", "client_auth_type"),
        "expected one of",
    ),
    (
        "RequireAnyClientCert",
        TLS + "  client_auth_type: RequireAnyClientCert\n",
        ("tls_server_config", "client_auth_type"),
        "cannot be done",
    ),
    (
        "verify without CA",
        TLS + "  client_auth_type: RequireAndVerifyClientCert\n",
        ("tls_server_config", "client_ca_file"),
        "required when",
    ),
    (
        "CA without client auth",
        TLS + "  client_ca_file: ca.crt\n",
        ("tls_server_config", "client_ca_file"),
        "NoClientCert",
    ),
    (
        "CA file not PEM",
        TLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: garbage.txt\n",
        ("tls_server_config", "client_ca_file"),
        "PEM CA",
    ),
    (
        "sans without required cert",
        TLS + "  client_auth_type: VerifyClientCertIfGiven\n"
        "  client_ca_file: ca.crt\n  client_allowed_sans: [a]\n",
        ("tls_server_config", "client_allowed_sans"),
        "RequireAndVerifyClientCert",
    ),
    (
        "bad min_version",
        TLS + "  min_version: TLS1.2\n",
        ("tls_server_config", "min_version"),
        "TLS10, TLS11, TLS12, TLS13",
    ),
    (
        "min above max",
        TLS + "  min_version: TLS13\n  max_version: TLS12\n",
        ("tls_server_config", "max_version"),
        "lower than min_version",
    ),
    (
        "unknown cipher",
        TLS + "  cipher_suites: [ECDHE-RSA-AES128-GCM-SHA256]\n",
        ("tls_server_config", "cipher_suites", 0),
        "unknown cipher suite",
    ),
    (
        "unknown curve",
        TLS + "  curve_preferences: [P256]\n",
        ("tls_server_config", "curve_preferences", 0),
        "unknown curve",
    ),
    (
        "several curves",
        TLS + "  curve_preferences: [X25519, CurveP256]\n",
        ("tls_server_config", "curve_preferences"),
        "one curve",
    ),
    (
        "prefer not bool",
        TLS + "  prefer_server_cipher_suites: yes please\n",
        ("tls_server_config", "prefer_server_cipher_suites"),
        "true or false",
    ),
    (
        "http2 not bool",
        "http_server_config: {http2: 'on'}\n",
        ("http_server_config", "http2"),
        "true or false",
    ),
    (
        "header not allowed",
        "http_server_config:\n  headers: {X-Custom: yes}\n",
        ("http_server_config", "headers", "X-Custom"),
        "cannot be configured",
    ),
    (
        "bad X-Frame-Options",
        "http_server_config:\n  headers: {X-Frame-Options: allow}\n",
        ("http_server_config", "headers", "X-Frame-Options"),
        "deny, sameorigin",
    ),
    (
        "header injection",
        'http_server_config:\n  headers: {Content-Security-Policy: "a\\r\\nX: y"}\n',
        ("http_server_config", "headers", "Content-Security-Policy"),
        "control characters",
    ),
    ("rate_limit", "rate_limit: {interval: 1s, burst: 10}\n", ("rate_limit",), "not supported"),
    (
        "plain password instead of hash",
        "basic_auth_users:\n  alice: hunter2-plain\n",
        ("basic_auth_users", "alice"),
        "bcrypt hash",
    ),
    (
        "sha-crypt hash",
        "basic_auth_users:\n  alice: '$6$rounds=5000$salt$abc'\n",
        ("basic_auth_users", "alice"),
        "bcrypt hash",
    ),
    (
        "truncated bcrypt",
        f"basic_auth_users:\n  alice: '{FAST_HASH[:-1]}'\n",
        ("basic_auth_users", "alice"),
        "bcrypt hash",
    ),
    (
        "bcrypt cost too low",
        f"basic_auth_users:\n  alice: '{FAST_HASH.replace('$04$', '$03$')}'\n",
        ("basic_auth_users", "alice"),
        "cost",
    ),
    (
        "users a list",
        f"basic_auth_users:\n  - alice: '{FAST_HASH}'\n",
        ("basic_auth_users",),
        "mapping",
    ),
    ("users a string", f"basic_auth_users: '{FAST_HASH}'\n", ("basic_auth_users",), "mapping"),
    (
        "user name with colon",
        f"basic_auth_users:\n  'a:b': '{FAST_HASH}'\n",
        ("basic_auth_users", "a:b"),
        "cannot contain ':'",
    ),
]


@pytest.mark.parametrize("text, path, words", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_web_configs(pki, text, path, words):
    (pki.dir / "garbage.txt").write_text("this is not a certificate\n")
    (pki.dir / "empty.txt").write_text("")
    file = write_web(pki.dir, text, name="web-bad.yml")
    with pytest.raises(ConfigError) as info:
        load_web_config(file)
    err = info.value
    assert err.path == path, str(err)
    assert err.file == file
    assert str(err).startswith(f"{file}: ")
    assert words in err.message, str(err)
    for secret in SECRETS:
        assert secret not in str(err) and secret not in repr(err), str(err)


def test_missing_web_config_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_web_config(str(tmp_path / "absent.yml"))
    assert info.value.path == () and "cannot read the web config file" in str(info.value)


def test_accepted_but_ignored_and_go_vocabulary(pki):
    text = """
        tls_server_config:
          cert_file: server.crt
          key_file: server.key
          client_auth_type: RequestClientCert
          client_ca_file: ca.crt
          min_version: TLS10
          cipher_suites: [TLS_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
                          TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, TLS_RSA_WITH_AES_128_CBC_SHA]
          prefer_server_cipher_suites: false
          curve_preferences: [X25519]
        http_server_config:
          http2: false
        """  # noqa: E501 (the cipher names are Go's, whole)
    path = write_web(pki.dir, text, name="web-go.yml")
    webcfg = load_web_config(path)
    ctx = webcfg.ssl_context()
    assert ctx.verify_mode == ssl.CERT_NONE  # RequestClientCert: nothing is checked
    assert not ctx.options & ssl.OP_CIPHER_SERVER_PREFERENCE
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1
    with serving(webcfg) as url:
        assert requests.get(url, verify=pki.ca, timeout=5).status_code == 200
