"""--web.listen-address the Go way: ':port' is every IPv4 and IPv6 address, a host is that
address only, and the flag may be repeated. Real exporter processes, real sockets."""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from devstack import REPO_ROOT
from exporters.listen import ListenAddress, parse_listen_address

CONFIG = """\
systems:
  - name: demo
    services:
      - name: closed-port
        tcp: {address: "127.0.0.1:9"}
"""
LISTENING = re.compile(r"msg=listening .*address=(\S+)")


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "aftercare.yml"
    path.write_text(CONFIG)
    return path


def exporter_command(config_file: Path, *addresses: str) -> list[str]:
    flags = [arg for a in addresses for arg in ("--web.listen-address", a)]
    return [
        sys.executable,
        "-m",
        "exporters.cli",
        "services",
        "--config.file",
        str(config_file),
        *flags,
    ]


@contextlib.contextmanager
def exporter(config_file: Path, tmp_path: Path, *addresses: str):
    """Run the exporter on ``addresses``; yield the host:port it logged for each one."""
    log_path = tmp_path / "exporter.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            exporter_command(config_file, *addresses),
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            found = LISTENING.findall(log_path.read_text())
            if len(found) == len(addresses):
                break
            assert proc.poll() is None, f"exporter exited {proc.returncode}: {log_path.read_text()}"
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        yield found
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


def port_of(address: str) -> int:
    return int(address.rpartition(":")[2])


def healthy(host: str, port: int) -> bool:
    """True when GET /-/healthy over ``host`` answers 200; False when the connection is refused."""
    url_host = f"[{host}]" if ":" in host else host
    try:
        return requests.get(f"http://{url_host}:{port}/-/healthy", timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.mark.parametrize(
    "given, host, port",
    [
        (":9851", "", 9851),
        ("127.0.0.1:9851", "127.0.0.1", 9851),
        ("0.0.0.0:1", "0.0.0.0", 1),
        ("[::1]:9851", "::1", 9851),
        ("[::]:0", "::", 0),
        ("localhost:65535", "localhost", 65535),
    ],
)
def test_parse_listen_address(given, host, port):
    assert parse_listen_address(given) == ListenAddress(host, port)


@pytest.mark.parametrize(
    "given",
    [
        "9851",
        "::1:9851",
        "127.0.0.1:",
        "127.0.0.1:65536",
        "[nothost]:80",
        "[::1:80",
        "a b:80",
        "127.0.0.1:-1",
    ],
)
def test_parse_listen_address_refuses(given):
    with pytest.raises(ValueError, match="expected host:port like :9851"):
        parse_listen_address(given)


def test_empty_host_serves_ipv4_and_ipv6_on_one_port(config_file, tmp_path):
    with exporter(config_file, tmp_path, ":0") as (address,):
        assert address.startswith("[::]:")
        port = port_of(address)
        assert healthy("127.0.0.1", port)
        assert healthy("::1", port)


def test_ipv6_wildcard_is_dual_stack_too(config_file, tmp_path):
    with exporter(config_file, tmp_path, "[::]:0") as (address,):
        assert healthy("127.0.0.1", port_of(address)) and healthy("::1", port_of(address))


@pytest.mark.parametrize(
    "given, reachable, refused",
    [
        ("127.0.0.1:0", "127.0.0.1", "::1"),
        ("0.0.0.0:0", "127.0.0.1", "::1"),
        ("[::1]:0", "::1", "127.0.0.1"),
    ],
)
def test_a_host_serves_that_address_only(config_file, tmp_path, given, reachable, refused):
    with exporter(config_file, tmp_path, given) as (address,):
        assert healthy(reachable, port_of(address))
        assert not healthy(refused, port_of(address))


def test_the_flag_repeats_and_every_address_is_served(config_file, tmp_path):
    with exporter(config_file, tmp_path, "127.0.0.1:0", "[::1]:0") as (v4, v6):
        assert v4.startswith("127.0.0.1:") and v6.startswith("[::1]:")
        assert healthy("127.0.0.1", port_of(v4)) and healthy("::1", port_of(v6))
        assert not healthy("::1", port_of(v4)) and not healthy("127.0.0.1", port_of(v6))
        metrics = requests.get(f"http://[::1]:{port_of(v6)}/metrics", timeout=10).text
        assert "aftercare_config_last_reload_successful 1.0" in metrics


def test_bad_address_is_one_line_and_exit_2(config_file):
    result = subprocess.run(
        exporter_command(config_file, "::1:9851"),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--web.listen-address: expected host:port like :9851" in result.stderr
    assert "'::1:9851'" in result.stderr


def test_a_taken_address_is_one_line_and_nothing_is_served(config_file):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            exporter_command(config_file, "[::1]:0", f"127.0.0.1:{port}"),
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "cannot listen" in line]
    assert errors == [
        f"aftercare-exporter: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]
    assert "Traceback" not in result.stderr


IPV6_OFF_SCRIPT = """
import re, subprocess, sys, time, urllib.request
for name in ("all", "default", "lo"):
    with open(f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6", "w") as fh:
        fh.write("1")
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
line = proc.stdout.readline()
while "msg=listening" not in line:
    assert line, "the exporter exited"
    line = proc.stdout.readline()
port = re.search(r"address=\\S+:(\\d+)", line).group(1)
body = urllib.request.urlopen(f"http://127.0.0.1:{port}/-/healthy", timeout=10).read().decode()
print(line.strip())
print("answer:", body.strip())
proc.terminate()
proc.wait(10)
"""


def test_empty_host_serves_ipv4_where_ipv6_is_disabled(config_file, tmp_path):
    """A container with IPv6 switched off (disable_ipv6=1): ':port' still serves IPv4.

    Runs in a network namespace of its own (unshare -rn), where it may switch IPv6 off.
    """
    try:
        probe = subprocess.run(
            ["unshare", "-rn", "ip", "link", "set", "lo", "up"], capture_output=True, timeout=30
        )
    except FileNotFoundError:
        probe = None
    if probe is None or probe.returncode != 0:
        pytest.skip("unshare -rn (user and network namespaces) or ip is not available here")
    script = tmp_path / "ipv6_off.py"
    script.write_text(IPV6_OFF_SCRIPT)
    result = subprocess.run(
        [
            "unshare",
            "-rn",
            "sh",
            "-c",
            'ip link set lo up && exec "$@"',
            "sh",
            sys.executable,
            str(script),
            *exporter_command(config_file, ":0"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "answer: Healthy." in result.stdout
    assert "address=[::]:" in result.stdout  # one dual-stack socket, IPv4 through it
