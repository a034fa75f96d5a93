"""PromClient's generic API calls (the dev stack's and the preview's only Prometheus client)
against a real Prometheus, and a server that fails first and then answers."""

from __future__ import annotations

import http.server
import json
import threading

import pytest
import yaml

from reportgen.prom import PromClient, PromError

RULES = {
    "groups": [
        {
            "name": "api",
            "rules": [
                {"alert": "ApiAlwaysFiring", "expr": "vector(1)", "labels": {"severity": "info"}}
            ],
        }
    ]
}


def test_targets_rules_alerts_and_label_values(prometheus_factory, tmp_path):
    rules = tmp_path / "api.rules.yml"
    rules.write_text(yaml.safe_dump(RULES))
    prom = prometheus_factory(scrape_self=True, rule_files=[rules])
    prom.wait_for_alert("ApiAlwaysFiring", state="firing", timeout=20)
    prom.wait_for_targets_up(job="prometheus", timeout=20)
    client = PromClient(prom.url, retries=0)

    [target] = client.targets()
    assert (target["labels"]["job"], target["health"]) == ("prometheus", "up")
    assert client.targets("dropped") == []
    assert [g["name"] for g in client.rules()] == ["api"]
    assert [a["labels"]["alertname"] for a in client.alerts()] == ["ApiAlwaysFiring"]
    assert "prometheus" in client.label_values("job")
    assert client.label_values("job", **{"match[]": "up"}) == ["prometheus"]
    assert client.api("query", query="vector(3)")["result"][0]["value"][1] == "3"

    with pytest.raises(PromError, match="query: bad_data"):
        client.api("query", query="sum(")
    with pytest.raises(PromError, match="HTTP 404 without a Prometheus API body"):
        client.api("no_such_endpoint")


class _FlakyHandler(http.server.BaseHTTPRequestHandler):
    """503 with a Prometheus error body for the first ``failures`` requests, then success."""

    failures = 0
    seen = 0

    def do_GET(self):
        cls = type(self)
        cls.seen += 1
        failing = cls.seen <= cls.failures
        body = (
            {"status": "error", "errorType": "unavailable", "error": "warming up"}
            if failing
            else {"status": "success", "data": ["a", "b"]}
        )
        data = json.dumps(body).encode()
        self.send_response(503 if failing else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky():
    handler = type("Flaky", (_FlakyHandler,), {"failures": 2, "seen": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, handler
    server.shutdown()
    server.server_close()


def test_server_errors_are_retried_then_reported(flaky):
    server, handler = flaky
    url = f"http://127.0.0.1:{server.server_address[1]}"
    assert PromClient(url, retries=2, backoff=0.01).api("label/x/values") == ["a", "b"]
    assert handler.seen == 3
    handler.seen = 0
    with pytest.raises(PromError, match=r"HTTP 503 .*unavailable: warming up .*after 2 attempts"):
        PromClient(url, retries=1, backoff=0.01).api("label/x/values")
    assert handler.seen == 2
