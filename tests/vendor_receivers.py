"""Group-robot endpoints as DingTalk, Feishu and WeCom document them, for the tests.

Each verifies what its vendor's documentation says the robot checks, with its
own code (not aftercare-notify's):

* a DingTalk custom robot endpoint as DingTalk documents it (自定义机器人, 安全设置
  加签): ``POST /robot/send?access_token=...&timestamp=<ms>&sign=<sign>``, sign =
  urlencode(base64(HmacSHA256(key=secret, data=timestamp + "\\n" + secret))),
  timestamp within an hour; ``msgtype`` markdown with ``markdown.title`` and
  ``markdown.text``; at most 20 messages a minute, then ``errcode`` 130101;
  success ``{"errcode": 0, "errmsg": "ok"}``.
* a Feishu custom bot endpoint as Feishu documents it (自定义机器人, 签名校验):
  ``POST /open-apis/bot/v2/hook/<token>``, body ``timestamp`` (s) and ``sign`` =
  base64(HmacSHA256(key=timestamp + "\\n" + secret, data="")); ``msg_type``
  interactive with a ``card``; body at most 20 KB; 100 a minute, then ``code``
  9499; success ``{"code": 0, "msg": "success", "data": {}}``.
* a WeCom group robot endpoint as WeCom documents it (群机器人配置说明):
  ``POST /cgi-bin/webhook/send?key=<key>``, ``msgtype`` markdown, ``content`` at
  most 4096 bytes; 20 a minute, then ``errcode`` 45009; success
  ``{"errcode": 0, "errmsg": "ok"}``.

``mode`` switches the answer: "ok", "5xx", "html"; ``down()``/``up()`` stop and
start listening on the same port.
"""

from __future__ import annotations

import base64
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from devstack.ports import free_port

RULES = {  # kind: (path prefix, messages a minute, the over-limit answer)
    "dingtalk": (
        "/robot/send",
        20,
        {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"},
    ),
    "feishu": (
        "/open-apis/bot/v2/hook/",
        100,
        {"code": 9499, "msg": "too many request", "data": {}},
    ),
    "wecom": ("/cgi-bin/webhook/send", 20, {"errcode": 45009, "errmsg": "api freq out of limit"}),
}
OK = {
    "dingtalk": {"errcode": 0, "errmsg": "ok"},
    "feishu": {"code": 0, "msg": "success", "data": {}},
    "wecom": {"errcode": 0, "errmsg": "ok"},
}


@dataclass
class Received:
    at: float
    body: dict
    text: str  # the Markdown the group sees
    query: dict = field(default_factory=dict)


def _hmac_b64(key: bytes, data: bytes) -> str:
    return base64.b64encode(hmac.digest(key, data, "sha256")).decode("ascii")


class VendorRobot:
    def __init__(self, kind: str, token: str, secret: str | None = None):
        self.kind, self.token, self.secret = kind, token, secret
        self.prefix, self.per_minute, self.too_fast = RULES[kind]
        self.port = free_port()
        self.mode = "ok"
        self.messages: list[Received] = []  # accepted and shown in the group
        self.rejected: list[tuple[float, str]] = []  # (when, why) every refused request
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        base = f"http://127.0.0.1:{self.port}"
        if self.kind == "dingtalk":
            return f"{base}/robot/send?access_token={self.token}"
        if self.kind == "feishu":
            return f"{base}/open-apis/bot/v2/hook/{self.token}"
        return f"{base}/cgi-bin/webhook/send?key={self.token}"

    # -- what the vendor checks -------------------------------------------------------------
    def _check(self, path: str, query: dict, body) -> str | None:
        """Why the vendor would refuse this request (None: accepted)."""
        if not isinstance(body, dict):
            return "body is not a JSON object"
        now = time.time()
        if self.kind == "dingtalk":
            if query.get("access_token") != [self.token]:
                return "wrong access_token"
            if self.secret:
                ts, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]
                if not ts.isdigit() or abs(now * 1000 - int(ts)) > 3600_000:
                    return "timestamp missing or more than an hour off"
                want = _hmac_b64(self.secret.encode(), f"{ts}\n{self.secret}".encode())
                if not hmac.compare_digest(sign, want):
                    return "sign mismatch"
            md = body.get("markdown")
            if (
                body.get("msgtype") != "markdown"
                or not isinstance(md, dict)
                or not md.get("title")
                or not md.get("text")
            ):
                return "not a markdown message with title and text"
        elif self.kind == "feishu":
            if path != self.prefix + self.token:
                return "wrong hook token"
            if len(json.dumps(body, ensure_ascii=False).encode()) > 20 * 1024:
                return "body over 20 KB"
            if self.secret:
                ts, sign = str(body.get("timestamp", "")), str(body.get("sign", ""))
                if not ts.isdigit() or abs(now - int(ts)) > 3600:
                    return "timestamp missing or more than an hour off"
                want = _hmac_b64(f"{ts}\n{self.secret}".encode(), b"")
                if not hmac.compare_digest(sign, want):
                    return "sign mismatch"
            card = body.get("card")
            if (
                body.get("msg_type") != "interactive"
                or not isinstance(card, dict)
                or not card.get("elements")
            ):
                return "not an interactive card"
        else:
            if query.get("key") != [self.token]:
                return "wrong key"
            md = body.get("markdown")
            if body.get("msgtype") != "markdown" or not isinstance(md, dict):
                return "not a markdown message"
            if len(str(md.get("content", "")).encode()) > 4096:
                return "content over 4096 bytes"
        return None

    @staticmethod
    def text_of(kind: str, body: dict) -> str:
        if kind == "dingtalk":
            return body["markdown"]["text"]
        if kind == "feishu":
            return "\n".join(e["text"]["content"] for e in body["card"]["elements"])
        return body["markdown"]["content"]

    def _answer(self, path: str, query: dict, raw: bytes) -> tuple[int, str, bytes]:
        if self.mode == "5xx":
            return 502, "text/html", b"<html><body>502 Bad Gateway</body></html>"
        if self.mode == "html":
            return 200, "text/html", b"<html><body>maintenance</body></html>"
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        now = time.time()
        with self.lock:
            why = self._check(path, query, body)
            if why is None:
                recent = [m for m in self.messages if m.at > now - 60]
                if len(recent) >= self.per_minute:
                    self.rejected.append((now, "rate limit"))
                    return 200, "application/json", json.dumps(self.too_fast).encode()
                self.messages.append(Received(now, body, self.text_of(self.kind, body), query))
                return 200, "application/json", json.dumps(OK[self.kind]).encode()
            self.rejected.append((now, why))
        code = {
            "dingtalk": {"errcode": 310000, "errmsg": why},
            "feishu": {"code": 19021, "msg": why, "data": {}},
            "wecom": {"errcode": 93000, "errmsg": why},
        }[self.kind]
        return 200, "application/json", json.dumps(code).encode()

    # -- serving ------------------------------------------------------------------------------
    def up(self) -> VendorRobot:
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                status, ctype, data = robot._answer(parts.path, parse_qs(parts.query), raw)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        if self._server is None:
            self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
            self._server.daemon_threads = True
            threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def texts(self) -> list[str]:
        with self.lock:
            return [m.text for m in self.messages]

    def max_per_minute(self) -> int:
        """The most messages accepted within any 60 s."""
        with self.lock:
            times = sorted(m.at for m in self.messages)
        return max((sum(1 for u in times if t <= u < t + 60) for t in times), default=0)
