"""--web.config.file is re-read on SIGHUP and POST /-/reload: a renewed certificate and
changed basic-auth users apply to new connections without a restart; a bad new web
config keeps the old one, logs one line and sets aftercare_config_last_reload_successful 0.

A real exporter process serving real TLS with certificates made here."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import re
import signal
import ssl
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
from cryptography.x509.oid import NameOID

from devstack import REPO_ROOT

CONFIG = """\
systems:
  - name: demo
    services:
      - name: closed-port
        tcp: {address: "127.0.0.1:9"}
"""
LISTENING = re.compile(r"msg=listening .*address=127\.0\.0\.1:(\d+)")
RELOAD_FAILED = "web config reload failed; keeping the previous one"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(key, cn: str, issuer_key, issuer: x509.Name, *, ca: bool = False):
    """A certificate for ``cn`` (valid for 127.0.0.1 unless it is a CA)."""
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
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def pem(obj) -> bytes:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class Certs:
    """A CA and server certificates issued by it, written on demand to server.crt/.key."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca = make_cert(
            self.ca_key, "reload test CA", self.ca_key, _name("reload test CA"), ca=True
        )
        self.ca_file = directory / "ca.crt"
        self.ca_file.write_bytes(pem(self.ca))

    def install(self, cn: str) -> None:
        """Write a new server certificate and key for ``cn`` over the served files."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = make_cert(key, cn, self.ca_key, self.ca.subject)
        (self.dir / "server.key").write_bytes(pem(key))
        (self.dir / "server.crt").write_bytes(pem(cert))


def web_yml(directory: Path, users: dict[str, str], cert_key: str = "cert_file") -> Path:
    lines = [
        "tls_server_config:",
        f"  {cert_key}: server.crt",
        "  key_file: server.key",
        "basic_auth_users:",
    ]
    lines += [
        f"  {user}: {bcrypt.hashpw(pw.encode(), bcrypt.gensalt(4)).decode()}"
        for user, pw in users.items()
    ]
    path = directory / "web.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


class Running:
    """The exporter process, its port and its log."""

    def __init__(self, proc: subprocess.Popen, port: int, log_path: Path, ca_file: Path):
        self.proc, self.port, self.log_path, self.ca_file = proc, port, log_path, ca_file

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def status(self, user: str, password: str, path: str = "/-/healthy") -> int:
        return requests.get(
            self.url + path, auth=(user, password), verify=self.ca_file, timeout=10
        ).status_code

    def served_cn(self) -> str:
        """The common name of the certificate a new connection is served."""
        text = ssl.get_server_certificate(("127.0.0.1", self.port), timeout=10)
        cert = x509.load_pem_x509_certificate(text.encode())
        return cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value

    def reload_successful(self, user: str, password: str) -> float:
        text = requests.get(
            self.url + "/metrics", auth=(user, password), verify=self.ca_file, timeout=10
        ).text
        return float(
            re.search(r"^aftercare_config_last_reload_successful (\S+)$", text, re.M).group(1)
        )


def wait_for(check, what: str, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@contextlib.contextmanager
def exporter(tmp_path: Path, web_config: Path, ca_file: Path):
    config = tmp_path / "aftercare.yml"
    config.write_text(CONFIG)
    log_path = tmp_path / "exporter.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exporters.cli",
                "services",
                "--config.file",
                str(config),
                "--web.listen-address",
                "127.0.0.1:0",
                "--web.config.file",
                str(web_config),
            ],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:

        def port():
            assert proc.poll() is None, log_path.read_text()
            found = LISTENING.search(log_path.read_text())
            return found and int(found.group(1))

        yield Running(proc, wait_for(port, "the exporter to listen"), log_path, ca_file)
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


@pytest.fixture
def certs(tmp_path: Path) -> Certs:
    certs = Certs(tmp_path)
    certs.install("exporter-one")
    return certs


def test_sighup_renews_the_certificate_and_swaps_the_users(tmp_path, certs):
    web = web_yml(tmp_path, {"alice": "alice-pw"})
    with exporter(tmp_path, web, certs.ca_file) as exp:
        assert exp.served_cn() == "exporter-one"
        assert exp.status("alice", "alice-pw") == 200
        assert exp.status("bob", "bob-pw") == 401

        certs.install("exporter-two")
        web_yml(tmp_path, {"bob": "bob-pw"})
        exp.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: exp.served_cn() == "exporter-two", "the renewed certificate")
        assert exp.status("bob", "bob-pw") == 200
        assert exp.status("alice", "alice-pw") == 401
        assert exp.reload_successful("bob", "bob-pw") == 1.0
        assert "web config loaded" in exp.log()
        assert RELOAD_FAILED not in exp.log()


def test_post_reload_renews_the_certificate_and_swaps_the_users(tmp_path, certs):
    web = web_yml(tmp_path, {"alice": "alice-pw"})
    with exporter(tmp_path, web, certs.ca_file) as exp:
        certs.install("exporter-three")
        web_yml(tmp_path, {"carol": "carol-pw"})
        answer = requests.post(
            exp.url + "/-/reload", auth=("alice", "alice-pw"), verify=certs.ca_file, timeout=30
        )
        assert answer.status_code == 200
        assert "web config reloaded" in answer.text
        # the reload is done when the answer comes: the next connection sees the new config
        assert exp.served_cn() == "exporter-three"
        assert exp.status("carol", "carol-pw") == 200
        assert exp.status("alice", "alice-pw") == 401
        assert exp.reload_successful("carol", "carol-pw") == 1.0


def test_a_bad_new_web_config_keeps_the_old_one(tmp_path, certs):
    web = web_yml(tmp_path, {"alice": "alice-pw"})
    with exporter(tmp_path, web, certs.ca_file) as exp:
        assert exp.reload_successful("alice", "alice-pw") == 1.0
        certs.install("exporter-not-served")
        web_yml(tmp_path, {"bob": "bob-pw"}, cert_key="cert_fil")  # a typo
        exp.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: RELOAD_FAILED in exp.log(), "the reload failure in the log")
        failures = [
            line
            for line in exp.log().splitlines()
            if "web config" in line and "reload failed" in line
        ]
        assert len(failures) == 1
        assert "level=error" in failures[0]
        assert "tls_server_config.cert_fil: unknown key" in failures[0]
        assert "$2b$" not in exp.log()  # no hash in the log
        # the old certificate and the old user are still in force
        assert exp.served_cn() == "exporter-one"
        assert exp.status("alice", "alice-pw") == 200
        assert exp.status("bob", "bob-pw") == 401
        assert exp.reload_successful("alice", "alice-pw") == 0.0

        # POST /-/reload says what is wrong, and nothing changes either
        answer = requests.post(
            exp.url + "/-/reload", auth=("alice", "alice-pw"), verify=certs.ca_file, timeout=30
        )
        assert answer.status_code == 500
        assert "tls_server_config.cert_fil: unknown key" in answer.text
        assert exp.status("alice", "alice-pw") == 200

        # an unreadable certificate is refused the same way
        web_yml(tmp_path, {"bob": "bob-pw"})
        (tmp_path / "server.crt").unlink()
        answer = requests.post(
            exp.url + "/-/reload", auth=("alice", "alice-pw"), verify=certs.ca_file, timeout=30
        )
        assert answer.status_code == 500
        assert "tls_server_config.cert_file: cannot read the server certificate" in answer.text
        assert exp.served_cn() == "exporter-one"

        # fixed: the next reload applies it and the metric is 1 again
        certs.install("exporter-fixed")
        exp.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: exp.served_cn() == "exporter-fixed", "the fixed web config")
        assert exp.status("bob", "bob-pw") == 200
        assert exp.reload_successful("bob", "bob-pw") == 1.0


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "web.yml: (top level): cannot read the web config file: No such file or directory"),
        ("tls_server_config:\n  cert_fil: x\n", "web.yml: tls_server_config.cert_fil: unknown key"),
        ("basic_auth_users: [alice]\n", "web.yml: basic_auth_users: expected a mapping"),
    ],
)
def test_a_bad_web_config_at_start_is_one_line_and_exit_2(tmp_path, content, message):
    web = tmp_path / "web.yml"
    if content is not None:
        web.write_text(content)
    config = tmp_path / "aftercare.yml"
    config.write_text(CONFIG)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "exporters.cli",
            "services",
            "--config.file",
            str(config),
            "--web.listen-address",
            "127.0.0.1:0",
            "--web.config.file",
            str(web),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("aftercare-exporter: invalid config: ")
    assert message in lines[0]
