"""aftercare-desk serve as a process: the exporters' flags, TLS, and a restart in the middle
of intake that loses no notification (Alertmanager keeps it and sends it again)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

from desk.db import make_engine
from devstack.alertmanager import Alertmanager
from devstack.ports import free_port
from tests.test_desk_intake import am_config, count, wait_for
from tests.test_webconfig import PKI

CONFIG = """
database: sqlite:///{db}
intake_token_file: intake.token
customers:
  acme: {{systems: [billing]}}
"""


def desk_cli(config: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "desk.cli", "--config.file", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
        **kwargs,
    )


def start_desk(config: Path, *flags: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "desk.cli", "--config.file", str(config), "serve", *flags],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_ready(url: str, **kwargs) -> None:
    def ready():
        try:
            return requests.get(f"{url}/-/ready", timeout=2, **kwargs).status_code == 200
        except requests.RequestException:
            return False

    wait_for(ready, timeout=30)


def setup(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "intake.token").write_text("intake-secret-token\n")
    config = tmp_path / "desk.yml"
    db = tmp_path / "desk.db"
    config.write_text(CONFIG.format(db=db))
    result = desk_cli(config, "migrate")
    assert result.returncode == 0, result.stderr
    return config, db


def alert(name: str) -> dict:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {
        "labels": {"alertname": name, "system": "billing", "severity": "warning"},
        "annotations": {"summary": name},
        "startsAt": now,
    }


def test_a_restart_mid_intake_loses_no_notification(tmp_path):
    config, db = setup(tmp_path)
    engine = make_engine(f"sqlite:///{db}")
    port = free_port()
    address = f"127.0.0.1:{port}"
    desk = start_desk(config, "--web.listen-address", address)
    try:
        wait_ready(f"http://{address}")
        with Alertmanager(am_config(address, str(tmp_path / "intake.token"))) as am:
            am.post_alerts([alert("FirstAlert")])
            wait_for(lambda: count(engine) == 1)
            desk.terminate()
            assert desk.wait(10) == 0
            am.post_alerts([alert("SentWhileDown")])
            time.sleep(2)  # Alertmanager tries, and fails, meanwhile
            assert count(engine) == 1
            desk = start_desk(config, "--web.listen-address", address)
            wait_for(lambda: count(engine) == 2, timeout=40)
    finally:
        desk.terminate()
        desk.wait(10)
    engine.dispose()


def test_serve_over_tls_marks_the_session_cookie_secure(tmp_path):
    config, _ = setup(tmp_path)
    pki = PKI(tmp_path)
    web = tmp_path / "web.yml"
    web.write_text(
        f"tls_server_config:\n  cert_file: {pki.server_crt}\n  key_file: {pki.server_key}\n"
    )
    port = free_port()
    desk = start_desk(
        config, "--web.listen-address", f"127.0.0.1:{port}", "--web.config.file", str(web)
    )
    try:
        url = f"https://127.0.0.1:{port}"
        wait_ready(url, verify=str(pki.ca))
        response = requests.get(f"{url}/login", verify=str(pki.ca), timeout=5)
        cookie = response.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert re.search(r'name="csrf" value="[^"]+"', response.text)
    finally:
        desk.terminate()
        desk.wait(10)


def test_serve_flags_and_bad_listen_address(tmp_path):
    config = tmp_path / "desk.yml"
    config.write_text(CONFIG.format(db=tmp_path / "desk.db"))
    version = desk_cli(config, "--version")
    assert version.returncode == 0 and "aftercare-desk" in version.stdout
    bad = desk_cli(config, "serve", "--web.listen-address", "nonsense")
    assert bad.returncode == 2 and "expected host:port" in bad.stderr
    web = tmp_path / "bad-web.yml"
    web.write_text("tls_server_config:\n  cert_file: nowhere.crt\n")
    broken = desk_cli(config, "serve", "--web.config.file", str(web))
    assert broken.returncode == 2 and "Traceback" not in broken.stderr
    assert broken.stderr.count("\n") == 1 and "bad-web.yml" in broken.stderr
