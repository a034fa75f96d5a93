"""The `status` services check against Debian's real nginx (stub_status) and Apache
(mod_status ?auto) started here, under load the test holds: the metrics equal the
server's own status page read just before and just after."""

from __future__ import annotations

import http.server
import socket
import threading

import pytest
import requests

from devstack.appservers import Apache, Nginx
from devstack.waiting import wait_until
from exporters.config import ConfigError, validate
from exporters.metrics import Sink
from exporters.probes import run_probe
from exporters.probes.appserver import APACHE_STATES
from exporters.services import RESPONSE_SECONDS


def status_check(spec: dict):
    config = validate({"systems": [{"name": "t", "services": [{"name": "web", "status": spec}]}]})
    return config.systems[0].services[0]


def probe(spec: dict) -> tuple[Sink, dict]:
    service = status_check(spec)
    sink = Sink()
    run_probe(service.kind, service.status, sink, 5.0, RESPONSE_SECONDS)
    return sink, {(name,) + labels: value for name, labels, value in sink.samples}


def nginx_page(url: str) -> dict[str, int]:
    words = requests.get(url, timeout=5).text.split()
    # Active connections: N / server accepts handled requests / A H R / Reading: r Writing: w
    # Waiting: q
    return {
        "active": int(words[2]),
        "accepted": int(words[7]),
        "handled": int(words[8]),
        "requests": int(words[9]),
        "reading": int(words[11]),
        "writing": int(words[13]),
        "waiting": int(words[15]),
    }


class Held:
    """A backend whose /slow/ requests wait until released: connections nginx holds open."""

    def __init__(self):
        self.release = threading.Event()
        release = self.release

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                release.wait(30)
                self.send_response(200)
                self.send_header("Content-Length", "3")
                self.end_headers()
                self.wfile.write(b"ok\n")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_port}"

    def close(self):
        self.release.set()
        self.server.shutdown()


HELD = 3


@pytest.fixture(scope="module")
def nginx():
    backend = Held()
    with Nginx(upstream=backend.address) as server:
        clients = [
            threading.Thread(
                target=requests.get, args=(f"{server.url}/slow/{i}",), kwargs={"timeout": 40}
            )
            for i in range(HELD)
        ]
        for client in clients:
            client.start()
        wait_until(lambda: nginx_page(f"{server.url}/status")["writing"] == HELD + 1, 20)
        yield server
        backend.close()
        for client in clients:
            client.join(10)


def test_nginx_metrics_equal_the_stub_status_page(nginx):
    url = f"{nginx.url}/status"
    before = nginx_page(url)
    sink, got = probe({"type": "nginx", "url": url})
    after = nginx_page(url)
    assert sink.up is True
    # the held slow requests, plus the status request being answered
    for state in ("active", "reading", "writing", "waiting"):
        assert got[("aftercare_appserver_connections", state)] == before[state] == after[state]
    assert got[("aftercare_appserver_connections", "writing")] == HELD + 1
    # each read of the page is one connection and one request: ours sits between the two
    for key, metric in (
        ("accepted", "aftercare_appserver_connections_accepted_total"),
        ("handled", "aftercare_appserver_connections_handled_total"),
        ("requests", "aftercare_appserver_requests_total"),
    ):
        assert before[key] + 1 == got[(metric,)] == after[key] - 1, key


def test_nginx_html_page_is_content_not_a_crash(nginx):
    sink, got = probe({"type": "nginx", "url": f"{nginx.url}/page.html"})
    assert (sink.up, sink.reason) == (False, "content")
    assert not any(k[0].startswith("aftercare_appserver_") for k in got)
    sink, _ = probe({"type": "apache", "url": f"{nginx.url}/status"})
    assert (sink.up, sink.reason) == (False, "content")
    sink, _ = probe({"type": "nginx", "url": f"{nginx.url}/missing"})
    assert (sink.up, sink.reason) == (False, "status")


def apache_page(server: Apache) -> tuple[dict, str]:
    text = requests.get(
        f"{server.url}/server-status?auto", timeout=5, auth=(server.user, server.password)
    ).text
    fields = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    return fields, fields["Scoreboard"]


@pytest.fixture(scope="module")
def apache(tmp_path_factory):
    with Apache() as server:
        # connections that sent half a request: workers held in the reading state
        held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(HELD)]
        for sock in held:
            sock.sendall(b"GET /page.html HTTP/1.1\r\nHost: x\r\n")
        wait_until(lambda: apache_page(server)[1].count("R") >= HELD, 20)
        yield server
        for sock in held:
            sock.close()


def test_apache_metrics_equal_the_mod_status_page(apache, monkeypatch):
    monkeypatch.setenv("STATUS_PASSWORD", apache.password)
    spec = {
        "type": "apache",
        "url": f"{apache.url}/server-status?auto",
        "username": apache.user,
        "password_env": "STATUS_PASSWORD",
    }
    before, board_before = apache_page(apache)
    sink, got = probe(spec)
    after, board_after = apache_page(apache)
    assert sink.up is True, sink.error
    assert (
        got[("aftercare_appserver_threads_busy", "workers")]
        == int(before["BusyWorkers"])
        == int(after["BusyWorkers"])
    )
    assert got[("aftercare_appserver_threads_max", "workers")] == len(board_before)
    for letter, state in APACHE_STATES.items():
        assert (
            got[("aftercare_appserver_connections", state)]
            == board_before.count(letter)
            == board_after.count(letter)
        ), state
    assert got[("aftercare_appserver_connections", "reading")] >= HELD
    assert (
        int(before["Total Accesses"]) + 1
        == got[("aftercare_appserver_requests_total",)]
        == int(after["Total Accesses"]) - 1
    )


def test_apache_without_credentials_is_auth_and_the_password_never_shows(apache, monkeypatch):
    sink, _ = probe({"type": "apache", "url": f"{apache.url}/server-status?auto"})
    assert (sink.up, sink.reason) == (False, "auth")
    monkeypatch.setenv("STATUS_PASSWORD", "wrong-password")
    sink, _ = probe(
        {
            "type": "apache",
            "url": f"{apache.url}/server-status?auto",
            "username": apache.user,
            "password_env": "STATUS_PASSWORD",
        }
    )
    assert (sink.up, sink.reason) == (False, "auth")
    assert "wrong-password" not in str(sink.error) and "wrong-password" not in repr(
        status_check(
            {
                "type": "apache",
                "url": "http://a:1/",
                "username": "u",
                "password_env": "STATUS_PASSWORD",
            }
        )
    )


@pytest.mark.parametrize(
    "spec, key, expected",
    [
        ({"type": "tomcat", "url": "http://a:1/"}, "type", "expected one of"),
        ({"type": "nginx", "url": "ftp://a/"}, "url", "http"),
        ({"type": "nginx"}, "url", "required"),
    ],
)
def test_bad_status_config_is_one_error(spec, key, expected):
    with pytest.raises(ConfigError) as err:
        status_check(spec)
    assert err.value.key == f"systems[0].services[0].status.{key}"
    assert expected in err.value.message
