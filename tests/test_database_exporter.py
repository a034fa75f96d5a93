"""The `database` exporter as a process: both engines, promtool-clean output."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.test_database_support import closed_port, write_config


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_exporter_serves_both_engines_promtool_clean(tmp_path, repo_root):
    promtool = shutil.which("promtool")
    assert promtool, "promtool is part of the development machine (apt-get install prometheus)"
    config = write_config(
        tmp_path,
        [
            {
                "name": "pg",
                "type": "postgresql",
                "dsn": "postgresql://postgres@127.0.0.1:5432/postgres",
                "data_path": str(tmp_path),
            },
            {"name": "my", "type": "mysql", "dsn": "mysql://root@127.0.0.1:3306/"},
            {
                "name": "gone",
                "type": "postgresql",
                "dsn": f"postgresql://postgres@127.0.0.1:{closed_port()}/postgres",
            },
        ],
        timeout="3s",
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exporters.cli",
            "database",
            "--config.file",
            str(config),
            "--web.listen-address",
            f"127.0.0.1:{port}",
        ],
        cwd=repo_root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("exporter did not serve: " + proc.stdout.read1().decode())
                time.sleep(0.2)
        check = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True)
        assert check.returncode == 0, check.stdout + check.stderr
        assert check.stdout + check.stderr == b""
        text = body.decode()
        assert 'aftercare_database_up{database="pg",system="demo"} 1.0' in text
        assert 'aftercare_database_up{database="my",system="demo"} 1.0' in text
        assert 'aftercare_database_up{database="gone",system="demo"} 0.0' in text
        assert (
            'aftercare_database_size_bytes{database="pg",datname="postgres",system="demo"}' in text
        )
        assert 'aftercare_database_deadlocks_total{database="my",datname="",system="demo"}' in text
        # every family says what it is
        names = {
            line.split()[2]
            for line in text.splitlines()
            if line.startswith("# HELP aftercare_database")
        }
        assert len(names) >= 35
    finally:
        proc.terminate()
        proc.wait(10)
