"""Protocol probers (postgresql, mysql, redis, amqp, mqtt, dns) against the real
servers on loopback, throwaway servers started here for login failures, a
black hole and a closed port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time

import dns.message
import dns.rcode
import dns.rrset
import pytest

from devstack.blackhole import BlackHole
from exporters.config import validate
from exporters.integrations import LATENCY_SECONDS
from exporters.metrics import Sink
from exporters.probes import run_probe


def link(spec: dict, timeout: str = "2s"):
    config = validate(
        {"systems": [{"name": "t", "integrations": [{"name": "l", "timeout": timeout, **spec}]}]}
    )
    item = config.systems[0].integrations[0]
    return item.kind, getattr(item, item.kind), item.timeout


def probe(spec: dict, timeout: str = "2s") -> Sink:
    kind, check, seconds = link(spec, timeout)
    sink = Sink()
    run_probe(kind, check, sink, seconds, LATENCY_SECONDS)
    return sink


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port: int, seconds: float = 10.0) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


@pytest.fixture(scope="module")
def hole():
    with BlackHole() as h:
        yield h


# --- PostgreSQL, MySQL ------------------------------------------------------------


def test_postgresql_up():
    sink = probe({"postgresql": {"dsn": "postgresql://postgres@127.0.0.1:5432/postgres"}})
    assert sink.up is True, sink.error
    assert sink.samples[0][0] == "aftercare_integration_latency_seconds"


def test_postgresql_unknown_role_is_auth():
    sink = probe(
        {"postgresql": {"dsn": "postgresql://no_such_role_aftercare@127.0.0.1:5432/postgres"}}
    )
    assert (sink.up, sink.reason) == (False, "auth")


def test_postgresql_closed_port_is_connect():
    sink = probe({"postgresql": {"dsn": f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"}})
    assert (sink.up, sink.reason) == (False, "connect")


def test_postgresql_black_hole_is_timeout(hole):
    sink = probe({"postgresql": {"dsn": f"postgresql://postgres@{hole.address}/postgres"}}, "1s")
    assert (sink.up, sink.reason) == (False, "timeout")


def test_mysql_up():
    sink = probe({"mysql": {"dsn": "mysql://root@127.0.0.1:3306/"}})
    assert sink.up is True, sink.error


def test_mysql_wrong_password_is_auth(monkeypatch):
    monkeypatch.setenv("AFTERCARE_TEST_MYSQL_PW", "definitely-not-the-password")
    sink = probe(
        {
            "mysql": {
                "dsn": "mysql://root@127.0.0.1:3306/",
                "password_env": "AFTERCARE_TEST_MYSQL_PW",
            }
        }
    )
    assert (sink.up, sink.reason) == (False, "auth")
    assert "definitely-not-the-password" not in sink.error


def test_mysql_black_hole_is_timeout(hole):
    start = time.monotonic()
    sink = probe({"mysql": {"dsn": f"mysql://root@{hole.address}/"}}, "500ms")
    assert (sink.up, sink.reason) == (False, "timeout")
    assert time.monotonic() - start < 0.8


def test_mysql_closed_port_is_connect():
    sink = probe({"mysql": {"dsn": f"mysql://root@127.0.0.1:{free_port()}/"}})
    assert (sink.up, sink.reason) == (False, "connect")


# --- Redis ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def protected_redis(tmp_path_factory):
    """A throwaway redis-server with requirepass (the shared one has none)."""
    binary = shutil.which("redis-server")
    if not binary:
        pytest.skip("redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--requirepass",
            "s3cret-redis-pass",
            "--dir",
            str(tmp_path_factory.mktemp("redis")),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_redis_up():
    assert probe({"redis": {"address": "127.0.0.1:6379"}}).up is True


def test_redis_auth_ok(protected_redis, monkeypatch):
    monkeypatch.setenv("AFTERCARE_TEST_REDIS_PW", "s3cret-redis-pass")
    sink = probe({"redis": {"address": protected_redis, "password_env": "AFTERCARE_TEST_REDIS_PW"}})
    assert sink.up is True, sink.error


def test_redis_wrong_password_is_auth(protected_redis, monkeypatch):
    monkeypatch.setenv("AFTERCARE_TEST_REDIS_PW", "wrong-redis-pass")
    sink = probe({"redis": {"address": protected_redis, "password_env": "AFTERCARE_TEST_REDIS_PW"}})
    assert (sink.up, sink.reason) == (False, "auth")
    assert "wrong-redis-pass" not in sink.error


def test_redis_missing_password_is_auth(protected_redis):
    sink = probe({"redis": {"address": protected_redis}})
    assert (sink.up, sink.reason) == (False, "auth")


def test_redis_black_hole_is_timeout(hole):
    sink = probe({"redis": {"address": hole.address}}, "300ms")
    assert (sink.up, sink.reason) == (False, "timeout")


def test_redis_protocol_mismatch_is_content():
    # PostgreSQL does not speak RESP: it closes the connection on the bad startup packet
    sink = probe({"redis": {"address": "127.0.0.1:5432"}})
    assert (sink.up, sink.reason) == (False, "content")


# --- AMQP ------------------------------------------------------------------------------


def test_amqp_up(monkeypatch):
    monkeypatch.setenv("AFTERCARE_TEST_MQ_PW", "guest")
    sink = probe(
        {"amqp": {"url": "amqp://guest@127.0.0.1:5672/", "password_env": "AFTERCARE_TEST_MQ_PW"}}
    )
    assert sink.up is True, sink.error


def test_amqp_wrong_password_is_auth(monkeypatch):
    monkeypatch.setenv("AFTERCARE_TEST_MQ_PW", "wrong-amqp-pass")
    sink = probe(
        {"amqp": {"url": "amqp://guest@127.0.0.1:5672/", "password_env": "AFTERCARE_TEST_MQ_PW"}}
    )
    assert (sink.up, sink.reason) == (False, "auth")
    assert "wrong-amqp-pass" not in sink.error


def test_amqp_closed_port_is_connect():
    sink = probe({"amqp": {"url": f"amqp://127.0.0.1:{free_port()}/"}})
    assert (sink.up, sink.reason) == (False, "connect")


def test_amqp_black_hole_is_timeout(hole):
    start = time.monotonic()
    sink = probe({"amqp": {"url": f"amqp://{hole.address}/"}}, "500ms")
    assert (sink.up, sink.reason) == (False, "timeout")
    assert time.monotonic() - start < 0.9


def test_amqp_invalid_name_is_dns():
    sink = probe({"amqp": {"url": "amqp://mq.aftercare.invalid:5672/"}})
    assert (sink.up, sink.reason) == (False, "dns")


# --- MQTT ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def protected_mosquitto(tmp_path_factory):
    """A throwaway mosquitto that requires a user name and password."""
    binary, passwd = (
        shutil.which("mosquitto") or "/usr/sbin/mosquitto",
        shutil.which("mosquitto_passwd"),
    )
    if not (shutil.which(binary) and passwd):
        pytest.skip("mosquitto is not installed")
    d = tmp_path_factory.mktemp("mosquitto")
    subprocess.run(
        [passwd, "-c", "-b", str(d / "passwd"), "probe", "s3cret-mqtt-pass"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    port = free_port()
    # as root, mosquitto drops to its own user unless told to stay: it must read the password file
    (d / "mosquitto.conf").write_text(
        f"user root\nlistener {port} 127.0.0.1\nallow_anonymous false\n"
        f"password_file {d / 'passwd'}\npersistence false\n"
    )
    proc = subprocess.Popen(
        [binary, "-c", str(d / "mosquitto.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_mqtt_up():
    sink = probe({"mqtt": {"address": "127.0.0.1:1883"}})
    assert sink.up is True, sink.error


def test_mqtt_login_ok(protected_mosquitto, monkeypatch):
    monkeypatch.setenv("AFTERCARE_TEST_MQTT_PW", "s3cret-mqtt-pass")
    sink = probe(
        {
            "mqtt": {
                "address": protected_mosquitto,
                "username": "probe",
                "password_env": "AFTERCARE_TEST_MQTT_PW",
            }
        }
    )
    assert sink.up is True, sink.error


def test_mqtt_wrong_password_is_auth(protected_mosquitto, monkeypatch):
    monkeypatch.setenv("AFTERCARE_TEST_MQTT_PW", "wrong-mqtt-pass")
    sink = probe(
        {
            "mqtt": {
                "address": protected_mosquitto,
                "username": "probe",
                "password_env": "AFTERCARE_TEST_MQTT_PW",
            }
        }
    )
    assert (sink.up, sink.reason) == (False, "auth")


def test_mqtt_anonymous_refused_is_auth(protected_mosquitto):
    sink = probe({"mqtt": {"address": protected_mosquitto}})
    assert (sink.up, sink.reason) == (False, "auth")


def test_mqtt_black_hole_is_timeout(hole):
    sink = probe({"mqtt": {"address": hole.address}}, "300ms")
    assert (sink.up, sink.reason) == (False, "timeout")


def test_mqtt_not_a_broker_is_content():
    sink = probe({"mqtt": {"address": "127.0.0.1:5432"}})  # PostgreSQL hangs up on the packet
    assert (sink.up, sink.reason) == (False, "content")


# --- DNS ------------------------------------------------------------------------------------


class TinyDns:
    """A loopback UDP name server: erp.test. A 10.0.0.7, NXDOMAIN for the rest, or silent."""

    def __init__(self, silent: bool = False):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.silent = silent
        threading.Thread(target=self.serve, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.sock.getsockname()[1]}"

    def serve(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            if self.silent:
                continue
            query = dns.message.from_wire(data)
            reply = dns.message.make_response(query)
            question = query.question[0]
            if question.name.to_text() == "erp.test.":
                reply.answer.append(dns.rrset.from_text("erp.test.", 60, "IN", "A", "10.0.0.7"))
            else:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(reply.to_wire(), peer)

    def close(self):
        self.sock.close()


@pytest.fixture(scope="module")
def nameserver():
    server = TinyDns()
    yield server
    server.close()


def test_dns_answer_through_server(nameserver):
    assert probe({"dns": {"name": "erp.test", "server": nameserver.address}}).up is True


def test_dns_nxdomain_is_dns(nameserver):
    sink = probe({"dns": {"name": "missing.test", "server": nameserver.address}})
    assert (sink.up, sink.reason) == (False, "dns")


def test_dns_silent_server_is_timeout():
    server = TinyDns(silent=True)
    try:
        start = time.monotonic()
        sink = probe({"dns": {"name": "erp.test", "server": server.address}}, "500ms")
        assert (sink.up, sink.reason) == (False, "timeout")
        assert time.monotonic() - start < 0.8
    finally:
        server.close()


def test_dns_system_resolver_hosts_file():
    assert probe({"dns": {"name": "localhost"}}).up is True


def test_dns_invalid_name_is_dns():
    sink = probe({"dns": {"name": "erp.aftercare.invalid"}})
    assert (sink.up, sink.reason) == (False, "dns")


# --- HTTP and TCP links ----------------------------------------------------------------------


def test_tcp_link_up_and_closed():
    assert probe({"tcp": {"address": "127.0.0.1:4222"}}).up is True  # NATS
    sink = probe({"tcp": {"address": f"127.0.0.1:{free_port()}"}})
    assert (sink.up, sink.reason) == (False, "connect")
