"""Each vendor's robot as its documentation describes it: body, signature, answer.

DingTalk custom robot: ``msgtype: markdown``; with 加签 the query gets
``timestamp`` (ms) and ``sign`` = urlencode(base64(HMAC-SHA256(key=secret,
msg=timestamp + "\\n" + secret))); answer ``errcode`` 0 (130101: too fast).
Feishu custom bot: ``msg_type: interactive`` card; with 签名校验 the body gets
``timestamp`` (s) and ``sign`` = base64(HMAC-SHA256(key=timestamp + "\\n" +
secret, msg="")); answer ``code`` 0 (9499: frequency limit).
WeCom group robot: ``msgtype: markdown``, the key is in the URL, no signature;
answer ``errcode`` 0 (45009: frequency limit).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from dataclasses import dataclass

from .model import Channel
from .render import Message

# bytes of Markdown text each vendor accepts (docs/notify.md), with room for the rest of the body
TEXT_LIMITS = {
    "dingtalk": 18000,
    "feishu": 18000,
    "wecom": 4000,
    "webhook": 60000,
    "console": 60000,
}
RATE_LIMITED = {"dingtalk": 130101, "feishu": 9499, "wecom": 45009}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The ``sign`` query value (already URL-encoded)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return urllib.parse.quote_plus(base64.b64encode(digest.digest()).decode())


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """The ``sign`` body value: the string to sign is the key, the message is empty."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def _mentions(channel: Channel, message: Message) -> tuple[list[str], list[str]]:
    """(mobile numbers, user ids) to @ on this message: only on critical pages."""
    if not message.critical:
        return [], []
    mobiles = [m for m in channel.mention if m.lstrip("+").isdigit()]
    return mobiles, [m for m in channel.mention if m not in mobiles]


def build_request(channel: Channel, message: Message, now: float | None = None) -> tuple[str, dict]:
    """(URL, JSON body) of one message to the channel's robot."""
    now = time.time() if now is None else now
    assert channel.url is not None, "only a console channel has no URL (_read_channel)"
    url = channel.url.reveal()
    mobiles, users = _mentions(channel, message)
    at = " ".join([f"@{m}" for m in mobiles + users])
    if channel.type == "dingtalk":
        if channel.secret:
            ts = int(now * 1000)
            url += (
                "&" if "?" in url else "?"
            ) + f"timestamp={ts}&sign={dingtalk_sign(channel.secret.reveal(), ts)}"
        text = f"## {message.title}\n\n{message.text}" + (f"\n\n{at}" if at else "")
        return url, {
            "msgtype": "markdown",
            "markdown": {"title": message.title, "text": text},
            "at": {"atMobiles": mobiles, "atUserIds": users, "isAtAll": False},
        }
    if channel.type == "feishu":
        content = message.text + (
            "\n" + " ".join(f"<at id={u}></at>" for u in users) if users else ""
        )
        body = {
            "msg_type": "interactive",
            "card": {
                "config": {"wide_screen_mode": True},
                "header": {
                    "title": {"tag": "plain_text", "content": message.title},
                    "template": "red" if message.critical else "orange",
                },
                "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": content}}],
            },
        }
        if channel.secret:
            ts = int(now)
            body = {"timestamp": str(ts), "sign": feishu_sign(channel.secret.reveal(), ts), **body}
        return url, body
    if channel.type == "wecom":
        content = f"## {message.title}\n{message.text}" + (
            "\n" + " ".join(f"<@{u}>" for u in mobiles + users) if at else ""
        )
        return url, {"msgtype": "markdown", "markdown": {"content": content}}
    raise ValueError(f"no robot request for a {channel.type} channel")


@dataclass(frozen=True)
class Answer:
    ok: bool
    rate_limited: bool
    detail: str  # safe to log: the vendor's code and message, or the HTTP status


def read_answer(kind: str, status: int, content_type: str, body: bytes) -> Answer:
    """A vendor's answer: delivered only on HTTP 200 with its JSON success code."""
    if kind == "webhook":
        return Answer(200 <= status < 300, status == 429, f"HTTP {status}")
    if status != 200:
        return Answer(False, status == 429, f"HTTP {status}")
    try:
        doc = json.loads(body)
    except ValueError:
        kind_of = "HTML" if b"<" in body[:200] else "not JSON"
        return Answer(False, False, f"HTTP 200 but the answer is {kind_of} ({content_type or '-'})")
    if not isinstance(doc, dict):
        return Answer(False, False, "HTTP 200 but the answer is not a JSON object")
    key = "code" if kind == "feishu" else "errcode"
    code = doc.get(key, doc.get("StatusCode") if kind == "feishu" else None)
    text = str(doc.get("msg" if kind == "feishu" else "errmsg", ""))[:200]
    if code == 0:
        return Answer(True, False, f"{key} 0")
    return Answer(False, code == RATE_LIMITED[kind], f"{key} {code}: {text}")
