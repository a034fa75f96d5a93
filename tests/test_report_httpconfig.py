"""aftercare-report --http.config.file against a real Prometheus behind its own
--web.config.file that requires a client certificate (and basic auth): the
prometheus/common HTTP client format, as promtool reads it."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import bcrypt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from devstack import REPO_ROOT
from devstack.ports import free_port
from exporters.schema import ConfigError
from reportgen import cli
from reportgen.httpconfig import HTTPClientConfig, build_session, load_http_config
from reportgen.prom import PromClient, PromError

PROMETHEUS_BIN = "/usr/bin/prometheus"
SERVER_NAME = "prometheus.internal"  # the only name in the server certificate
PASSWORD = "s3cret-report-pw"
CONFIG = """\
systems:
  - name: demo
    timezone: UTC
    services:
      - name: closed-port
        tcp: {address: "127.0.0.1:9"}
"""


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(key, cn, issuer_key, issuer, *, ca=False, sans=(), usage=None):
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(directory: Path, name: str, cert, key) -> tuple[Path, Path]:
    crt, pem_key = directory / f"{name}.crt", directory / f"{name}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem_key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return crt, pem_key


class PKI:
    """A CA, Prometheus's server certificate (DNS name only) and a client certificate."""

    def __init__(self, d: Path):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _cert(ca_key, "report test CA", ca_key, _name("report test CA"), ca=True)
        self.ca = d / "ca.crt"
        self.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        server_key = ec.generate_private_key(ec.SECP256R1())
        self.server_cert, self.server_key = _write(
            d,
            "server",
            _cert(
                server_key,
                SERVER_NAME,
                ca_key,
                ca.subject,
                sans=[x509.DNSName(SERVER_NAME)],
                usage=ExtendedKeyUsageOID.SERVER_AUTH,
            ),
            server_key,
        )
        ip_key = ec.generate_private_key(ec.SECP256R1())
        self.ip_server_cert, self.ip_server_key = _write(
            d,
            "server-ip",
            _cert(
                ip_key,
                "127.0.0.1",
                ca_key,
                ca.subject,
                sans=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
                usage=ExtendedKeyUsageOID.SERVER_AUTH,
            ),
            ip_key,
        )
        client_key = ec.generate_private_key(ec.SECP256R1())
        self.client_cert, self.client_key = _write(
            d,
            "client",
            _cert(
                client_key,
                "aftercare-report",
                ca_key,
                ca.subject,
                usage=ExtendedKeyUsageOID.CLIENT_AUTH,
            ),
            client_key,
        )
        other_key = ec.generate_private_key(ec.SECP256R1())
        self.other_ca = d / "other-ca.crt"
        self.other_ca.write_bytes(
            _cert(
                other_key, "someone else", other_key, _name("someone else"), ca=True
            ).public_bytes(serialization.Encoding.PEM)
        )


class TLSPrometheus:
    """Prometheus requiring basic auth over TLS, scraping an exporter.

    With ``client_certs`` it also requires a client certificate from the test CA, and
    its certificate names prometheus.internal only; without, it names 127.0.0.1.
    """

    def __init__(self, d: Path, pki: PKI, exporter_address: str, client_certs: bool = True):
        self.dir, self.pki = d, pki
        self.port = free_port()
        web = d / f"prom-web-{client_certs}.yml"
        cert, key = (
            (pki.server_cert, pki.server_key)
            if client_certs
            else (pki.ip_server_cert, pki.ip_server_key)
        )
        web.write_text(
            "tls_server_config:\n"
            f"  cert_file: {cert}\n  key_file: {key}\n"
            + (
                f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {pki.ca}\n"
                if client_certs
                else ""
            )
            + "basic_auth_users:\n"
            f"  reporter: {bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()}\n"
        )
        config = d / f"prometheus-{client_certs}.yml"
        config.write_text(
            "global: {scrape_interval: 1s}\n"
            "scrape_configs:\n"
            "  - job_name: aftercare-services\n"
            f"    static_configs: [{{targets: ['{exporter_address}']}}]\n"
        )
        self.log = d / f"prometheus-{client_certs}.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    PROMETHEUS_BIN,
                    "--config.file",
                    str(config),
                    "--storage.tsdb.path",
                    str(d / f"data-{client_certs}"),
                    "--web.listen-address",
                    f"127.0.0.1:{self.port}",
                    "--web.config.file",
                    str(web),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.session = requests.Session()
        self.session.cert = (str(pki.client_cert), str(pki.client_key))
        self.session.auth = ("reporter", PASSWORD)
        self.session.verify = False  # the certificate names prometheus.internal only
        self.session.trust_env = False  # (a CA bundle from the environment would win)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def get(self, path: str, **params):
        return self.session.get(self.url + path, params=params, timeout=10)

    def wait(self, check, what: str, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                if check():
                    return
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, f"{what}: {self.log.read_text()[-3000:]}"
            time.sleep(0.25)

    def close(self):
        self.proc.terminate()
        self.proc.wait(15)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """(directory, PKI, Prometheus) with a few scrapes of a services exporter stored."""
    import urllib3

    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    d = tmp_path_factory.mktemp("report-mtls")
    pki = PKI(d)
    (d / "aftercare.yml").write_text(CONFIG)
    exporter_log = d / "exporter.log"
    with open(exporter_log, "wb") as log:
        exporter = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exporters.cli",
                "services",
                "--config.file",
                str(d / "aftercare.yml"),
                "--web.listen-address",
                "127.0.0.1:0",
            ],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    prom = plain = None
    try:
        deadline = time.monotonic() + 20
        while not (found := re.search(r"msg=listening .*address=(\S+)", exporter_log.read_text())):
            assert exporter.poll() is None and time.monotonic() < deadline, exporter_log.read_text()
            time.sleep(0.05)
        prom = TLSPrometheus(d, pki, found.group(1))
        prom.wait(lambda: prom.get("/-/ready").status_code == 200, "Prometheus ready")

        def scrapes() -> int:
            result = prom.get("/api/v1/query", query="aftercare_service_up[1m]").json()
            return sum(len(s["values"]) for s in result["data"]["result"])

        prom.wait(lambda: scrapes() >= 3, "three scrapes stored")
        plain = TLSPrometheus(d, pki, found.group(1), client_certs=False)
        plain.wait(lambda: plain.get("/-/ready").status_code == 200, "Prometheus ready")
        prom.plain = plain
        yield d, pki, prom
    finally:
        for server in (prom, plain):
            if server:
                server.close()
        exporter.terminate()
        exporter.wait(10)


def http_yml(d: Path, name: str, text: str) -> Path:
    path = d / name
    path.write_text(text)
    return path


def report(d: Path, prom_url: str, *extra: str, out: str = "out") -> subprocess.CompletedProcess:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "reportgen.cli",
            "--prometheus",
            prom_url,
            "--config.file",
            str(d / "aftercare.yml"),
            "--from",
            (now - dt.timedelta(minutes=10)).isoformat(),
            "--to",
            now.isoformat(),
            "--format",
            "json",
            "--lang",
            "en",
            "--out",
            str(d / out),
            "--no-previous",
            "--quiet",
            "--retries",
            "0",
            *extra,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_report_through_client_certificate_and_basic_auth(stack):
    d, pki, prom = stack
    (d / "password").write_text(PASSWORD + "\n")
    config = http_yml(
        d,
        "http.yml",
        f"""\
basic_auth:
  username: reporter
  password_file: password
tls_config:
  ca_file: {pki.ca}
  cert_file: {pki.client_cert}
  key_file: {pki.client_key}
  server_name: {SERVER_NAME}
  min_version: TLS12
follow_redirects: true
enable_http2: true
""",
    )
    result = report(d, prom.url, "--http.config.file", str(config))
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    (written,) = (d / "out").iterdir()
    body = json.loads(written.read_text())
    service = body["systems"][0]["services"][0]
    assert service["name"] == "closed-port"
    assert service["availability_ratio"] == 0.0  # the port is closed at every scrape
    assert service["coverage_ratio"] > 0
    assert body["method"]["query_count"] > 0


def test_insecure_skip_verify_and_inline_password(stack):
    d, pki, prom = stack
    config = http_yml(
        d,
        "http-insecure.yml",
        f"""\
basic_auth: {{username: reporter, password: {PASSWORD}}}
tls_config:
  cert_file: {pki.client_cert}
  key_file: {pki.client_key}
  insecure_skip_verify: true
""",
    )
    result = report(d, prom.url, "--http.config.file", str(config), out="out-insecure")
    assert result.returncode == 0, result.stderr
    assert "InsecureRequestWarning" not in result.stderr
    assert len(list((d / "out-insecure").iterdir())) == 1


@pytest.mark.parametrize(
    "name, text",
    [
        (
            "no client certificate",
            "tls_config: {{ca_file: {ca}, server_name: " + SERVER_NAME + "}}\n"
            "basic_auth: {{username: reporter, password: " + PASSWORD + "}}\n",
        ),
        (
            "certificate name not matching",
            "tls_config: {{ca_file: {ca}, cert_file: {cert}, key_file: {key}}}\n",
        ),
        (
            "server from an unknown CA",
            "tls_config: {{ca_file: {other}, cert_file: {cert}, "
            "key_file: {key}, server_name: " + SERVER_NAME + "}}\n",
        ),
    ],
)
def test_refused_by_tls_is_one_line_and_exit_3(stack, name, text):
    d, pki, prom = stack
    config = http_yml(
        d,
        "http-refused.yml",
        text.format(ca=pki.ca, other=pki.other_ca, cert=pki.client_cert, key=pki.client_key),
    )
    result = report(d, prom.url, "--http.config.file", str(config), out="out-refused")
    assert result.returncode == 3, (name, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"aftercare-report: Prometheus: cannot reach {prom.url}")
    assert "no report written" in lines[0]
    assert PASSWORD not in result.stderr
    out = d / "out-refused"
    assert not out.exists() or not list(out.iterdir())


def test_client_certificate_without_basic_auth_is_refused_by_prometheus(stack):
    d, pki, prom = stack
    config = http_yml(
        d,
        "http-noauth.yml",
        f"tls_config: {{ca_file: {pki.ca}, cert_file: "
        f"{pki.client_cert}, key_file: {pki.client_key}, "
        f"server_name: {SERVER_NAME}}}\n",
    )
    result = report(d, prom.url, "--http.config.file", str(config), out="out-noauth")
    assert result.returncode == 3
    assert "HTTP 401" in result.stderr or "without a Prometheus API body" in result.stderr
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "tls_config:\n  cert_fil: client.crt\n",
            "tls_config.cert_fil: unknown key; expected one of",
        ),
        ("basic_auth: {username: u, pasword: x}\n", "basic_auth.pasword: unknown key"),
        ("bearer_tokn: x\n", "bearer_tokn: unknown key"),
        ("oauth2: {client_id: x}\n", "oauth2: not supported by aftercare-report"),
        (
            "basic_auth: {username: u, password_file: missing.pw}\n",
            "basic_auth.password_file: cannot read the password file",
        ),
        (
            "basic_auth: {username: u, password: p, password_file: pw}\n",
            "basic_auth.password_file: at most one of password and password_file",
        ),
        (
            "basic_auth: {username: u, password: p}\nbearer_token: t\n",
            "bearer_token: at most one of basic_auth and authorization and bearer_token",
        ),
        (
            "authorization: {type: Basic, credentials: x}\n",
            "authorization.type: the type cannot be",
        ),
        (
            "tls_config: {cert_file: client.crt}\n",
            "tls_config.key_file: a client certificate needs",
        ),
        ("tls_config: {min_version: TLS14}\n", "tls_config.min_version: expected one of TLS10"),
        (
            "tls_config: {insecure_skip_verify: 'yes'}\n",
            "tls_config.insecure_skip_verify: expected true or false",
        ),
        ("basic_auth: [u, p]\n", "basic_auth: expected a mapping"),
        ("no_proxy: localhost\n", "no_proxy: needs proxy_url"),
        (
            "proxy_url: http://127.0.0.1:3128\nproxy_from_environment: true\n",
            "proxy_from_environment: proxy_url and proxy_from_environment cannot both be set",
        ),
        ("proxy_url: ftp://127.0.0.1\n", "proxy_url: expected a URL (http://"),
        ("a: 1\na: 2\n", "appears twice"),
        ("tls_config: {ca_file: [x\n", "expected valid YAML"),
    ],
)
def test_bad_http_config_is_one_line_and_exit_2(tmp_path, capsys, text, expected):
    (tmp_path / "aftercare.yml").write_text(CONFIG)
    (tmp_path / "client.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "pw").write_text("p\n")
    config = http_yml(tmp_path, "bad-http.yml", text)
    code = cli.main(
        [
            "--prometheus",
            "https://127.0.0.1:9",
            "--config.file",
            str(tmp_path / "aftercare.yml"),
            "--http.config.file",
            str(config),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"aftercare-report: invalid config: {config}: ")
    assert expected in lines[0]
    assert not (tmp_path / "out").exists()


def test_unknown_key_from_the_command_line(stack):
    d, pki, prom = stack
    config = http_yml(d, "typo-http.yml", f"tls_config:\n  ca_file: {pki.ca}\n  cert_fil: x\n")
    result = report(d, prom.url, "--http.config.file", str(config), out="out-typo")
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"aftercare-report: invalid config: {config}: tls_config.cert_fil: unknown key; expected "
        "one of ca, ca_file, ca_ref, cert, cert_file, cert_ref, insecure_skip_verify, key, "
        "key_file, key_ref, max_version, min_version, server_name"
    ]


def test_secrets_never_appear_in_errors(tmp_path):
    token = "tok-9f8e7d6c5b4a"
    cases = [
        f"basic_auth: {{username: u, password: {{{token}: 1}}}}\n",
        f"bearer_token: [{token}]\n",
        f"authorization: {{credentials: {token}, credentials_fil: x}}\n",
        f"tls_config: {{key: {token}, cert: {token}}}\n",
    ]
    for text in cases:
        path = tmp_path / "http.yml"
        path.write_text(text)
        with pytest.raises(ConfigError) as err:
            load_http_config(str(path))
        assert token not in str(err.value), text
        assert str(err.value).startswith(f"{path}: ")


def test_secrets_are_read_from_files_and_never_shown(tmp_path):
    (tmp_path / "token").write_text("tok-abc123\n")
    path = tmp_path / "http.yml"
    path.write_text(
        "authorization: {type: Bearer, credentials_file: token}\n"
        "proxy_url: http://127.0.0.1:3128\nno_proxy: 127.0.0.1\n"
    )
    config = load_http_config(str(path))
    assert "tok-abc123" not in repr(config)
    session = build_session(config, "http://127.0.0.1:9090")
    assert session.headers["Authorization"] == "Bearer tok-abc123"
    assert session.proxies == {}  # 127.0.0.1 is in no_proxy
    assert session.trust_env is False  # no proxy from the environment
    assert build_session(config, "http://prom.example:9090").proxies == {
        "http": "http://127.0.0.1:3128",
        "https": "http://127.0.0.1:3128",
    }
    path.write_text("bearer_token_file: token\nproxy_from_environment: true\n")
    config = load_http_config(str(path))
    session = build_session(config, "http://127.0.0.1:9090")
    assert session.headers["Authorization"] == "Bearer tok-abc123" and session.trust_env


def test_shorthands_and_the_config_file_do_not_mix(tmp_path):
    (tmp_path / "aftercare.yml").write_text(CONFIG)
    (tmp_path / "http.yml").write_text("{}\n")
    (tmp_path / "ca.pem").write_text("x")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "reportgen.cli",
            "--prometheus",
            "https://127.0.0.1:9",
            "--config.file",
            str(tmp_path / "aftercare.yml"),
            "--ca-file",
            str(tmp_path / "ca.pem"),
            "--http.config.file",
            str(tmp_path / "http.yml"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"aftercare-report: --ca-file: give it in --http.config.file {tmp_path / 'http.yml'} "
        "instead, not both"
    ]


def test_shorthands_build_the_same_config():
    config = HTTPClientConfig.from_shorthands("T0KEN-x1", ("user", "PASS-y2"), "/etc/ca.pem")
    assert config.basic_auth.username == "user"
    assert config.basic_auth.password.reveal() == "PASS-y2"
    assert config.authorization.credentials.reveal() == "T0KEN-x1"
    assert config.tls_config.ca_file == "/etc/ca.pem" and config.proxy_from_environment
    assert "PASS-y2" not in repr(config) and "T0KEN-x1" not in repr(config)


def test_shorthands_reach_a_tls_prometheus_with_basic_auth(stack, tmp_path, capsys):
    """--ca-file and --basic-auth-file still work, through the same transport."""
    d, pki, prom = stack
    client = PromClient(
        prom.plain.url, basic_auth=("reporter", PASSWORD), ca_file=str(pki.ca), retries=0
    )
    (sample,) = client.instant("vector(42)", time.time())
    assert sample["value"][1] == 42.0
    with pytest.raises(PromError, match="cannot reach"):
        PromClient(
            prom.plain.url, basic_auth=("reporter", PASSWORD), ca_file=str(pki.other_ca), retries=0
        ).instant("vector(1)", time.time())
    with pytest.raises(PromError, match="HTTP 401"):
        PromClient(prom.plain.url, ca_file=str(pki.ca), retries=0).instant("vector(1)", time.time())

    (tmp_path / "aftercare.yml").write_text(CONFIG)
    (tmp_path / "not-a-ca.pem").write_text("hello\n")
    for ca_file, expected in [
        (tmp_path / "missing.pem", "cannot read the CA file: No such file or directory"),
        (tmp_path / "not-a-ca.pem", "expected PEM CA certificate(s)"),
    ]:
        code = cli.main(
            [
                "--prometheus",
                prom.plain.url,
                "--config.file",
                str(tmp_path / "aftercare.yml"),
                "--ca-file",
                str(ca_file),
            ]
        )
        assert code == 2
        assert capsys.readouterr().err.splitlines() == [
            f"aftercare-report: --ca-file {ca_file}: {expected}"
        ]
