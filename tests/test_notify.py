"""aftercare-notify against robot endpoints written from the vendors' documentation
(tests/vendor_receivers.py): signatures, payload shapes, answers, bad input, secrets."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import time
import urllib.parse

import pytest
import yaml

from devstack import REPO_ROOT
from devstack.notify import NotifyProcess
from devstack.waiting import wait_until
from exporters.notify.render import render
from exporters.notify.spool import notification_key
from exporters.notify.vendors import dingtalk_sign, feishu_sign, read_answer
from tests.vendor_receivers import VendorRobot

RUNBOOK = "https://github.com/aftercare/aftercare/blob/main/docs/runbooks/AftercareDatabaseDown.md"


def openssl_hmac_b64(key: bytes, data: bytes) -> str:
    """HMAC-SHA256, base64, computed by the openssl command line tool."""
    out = subprocess.run(
        ["openssl", "dgst", "-sha256", "-mac", "HMAC", "-macopt", "hexkey:" + key.hex(), "-binary"],
        input=data,
        capture_output=True,
        check=True,
    ).stdout
    return base64.b64encode(out).decode()


def test_dingtalk_signature_as_documented():
    secret, ts = "SEC0123456789abcdef0123456789abcdef", 1700000000123
    want = openssl_hmac_b64(secret.encode(), f"{ts}\n{secret}".encode())
    sign = dingtalk_sign(secret, ts)
    assert urllib.parse.unquote_plus(sign) == want
    assert "+" not in sign and "/" not in sign and "=" not in sign  # URL-encoded


def test_feishu_signature_as_documented():
    secret, ts = "demo-feishu-secret", 1700000000
    # the string to sign is the HMAC key; the message is empty
    assert feishu_sign(secret, ts) == openssl_hmac_b64(f"{ts}\n{secret}".encode(), b"")


@pytest.mark.parametrize(
    "kind,status,body,ok,limited",
    [
        ("dingtalk", 200, b'{"errcode":0,"errmsg":"ok"}', True, False),
        ("dingtalk", 200, b'{"errcode":130101,"errmsg":"send too fast"}', False, True),
        ("dingtalk", 200, b'{"errcode":310000,"errmsg":"sign not match"}', False, False),
        ("feishu", 200, b'{"code":0,"msg":"success","data":{}}', True, False),
        ("feishu", 200, b'{"code":9499,"msg":"too many request"}', False, True),
        ("feishu", 200, b'{"code":19021,"msg":"sign match fail"}', False, False),
        ("wecom", 200, b'{"errcode":0,"errmsg":"ok"}', True, False),
        ("wecom", 200, b'{"errcode":45009,"errmsg":"api freq out of limit"}', False, True),
        ("wecom", 200, b"<html>gateway</html>", False, False),
        ("wecom", 502, b'{"errcode":0}', False, False),
    ],
)
def test_vendor_answers(kind, status, body, ok, limited):
    answer = read_answer(kind, status, "application/json", body)
    assert (answer.ok, answer.rate_limited) == (ok, limited), answer.detail


def alert(
    n: int, severity: str = "critical", system: str = "billing", status: str = "firing", **labels
) -> dict:
    return {
        "status": status,
        "labels": {
            "alertname": "AftercareDatabaseDown",
            "severity": severity,
            "system": system,
            "area": "database",
            "database": f"pg-{n:03d}",
            **labels,
        },
        "annotations": {
            "summary": f"Database pg-{n:03d} is down",
            "summary_zh": f"数据库 pg-{n:03d} 不可用",
            "runbook_url": RUNBOOK,
        },
        "startsAt": "2026-01-05T01:02:03Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": f"{n:016x}",
    }


def payload(alerts: list[dict], group: str = "billing") -> dict:
    return {
        "version": "4",
        "groupKey": f'{{}}:{{system="{group}"}}',
        "status": "firing",
        "receiver": "oncall",
        "groupLabels": {"alertname": "AftercareDatabaseDown", "system": group},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://am:9093",
        "alerts": alerts,
    }


def test_long_group_is_truncated_within_the_limit_with_a_count():
    message = render([payload([alert(i) for i in range(100)])], "zh", "http://g:3000", 4000)
    assert len(message.text.encode()) <= 4000
    assert message.shown + message.omitted == 100 and message.omitted > 0
    assert f"还有 {message.omitted} 条告警未显示" in message.text
    en = render([payload([alert(1, status="resolved")])], "en", "http://g:3000", 4000)
    assert "[RESOLVED] Database pg-001 is down" in en.text and not en.omitted


def test_duplicate_key_ignores_order_and_sees_status():
    a, b = alert(1), alert(2)
    assert notification_key(payload([a, b])) == notification_key(payload([b, a]))
    resolved = dict(payload([a, b]), status="resolved")
    assert notification_key(resolved) != notification_key(payload([a, b]))


# --- a real aftercare-notify ----------------------------------------------------------------


@pytest.fixture
def robots():
    robots = {
        "ding": VendorRobot("dingtalk", "dingtoken0123456789abcdef", "SECding0123456789secret"),
        "lark": VendorRobot("feishu", "feishu-hook-0123456789abcdef", "larksecret0123456789"),
        "wx": VendorRobot("wecom", "wecomkey-0123-4567-89ab-cdef01234567"),
    }
    for robot in robots.values():
        robot.up()
    yield robots
    for robot in robots.values():
        robot.down()


def write_config(tmp_path, robots, **notify_keys) -> tuple:
    channels = []
    for name, robot in robots.items():
        (tmp_path / f"{name}.url").write_text(robot.url + "\n")
        channel = {
            "name": name,
            "type": robot.kind,
            "url_file": f"{name}.url",
            "mention": ["13800000000", "zhangsan"],
        }
        if robot.secret:
            (tmp_path / f"{name}.secret").write_text(robot.secret + "\n")
            channel["secret_file"] = f"{name}.secret"
        channels.append(channel)
    channels.append({"name": "screen", "type": "console", "language": "en"})
    config = {
        "defaults": {"state_dir": str(tmp_path / "state")},
        "systems": [{"name": "billing"}],
        "notify": {
            "retry_initial": "100ms",
            "retry_max": "1s",
            "channels": channels,
            **notify_keys,
        },
    }
    path = tmp_path / "aftercare.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


@pytest.fixture
def notify(tmp_path, robots):
    with NotifyProcess(write_config(tmp_path, robots)) as proc:
        yield proc


def test_each_vendor_gets_a_signed_message_in_its_format(notify, robots):
    for name in ("ding", "lark", "wx", "screen"):
        response = notify.post(name, payload([alert(1), alert(2, severity="warning")]))
        assert response.status_code == 200, response.text
    for name, robot in robots.items():
        wait_until(lambda robot=robot: robot.messages, 15, what=f"a message at {name}")
        assert robot.rejected == [], robot.rejected
        (got,) = robot.messages
        for expected in (
            "数据库 pg-001 不可用",
            "级别: 严重",
            "系统: billing",
            "对象: pg-001",
            "开始时间: 2026-01-05 09:02:03 (UTC+8)",
            f"[处置手册]({RUNBOOK})",
            "[监控面板](http://127.0.0.1:3000/d/aftercare-database?var-system=billing)",
            "数据库 pg-002 不可用",
            "级别: 警告",
        ):
            assert expected in got.text, (name, expected, got.text)
    ding = robots["ding"].messages[0].body
    assert ding["at"] == {"atMobiles": ["13800000000"], "atUserIds": ["zhangsan"], "isAtAll": False}
    assert "@13800000000" in ding["markdown"]["text"]
    lark = robots["lark"].messages[0].body
    assert (
        lark["card"]["header"]["template"] == "red"
        and "<at id=zhangsan></at>" in lark["card"]["elements"][0]["text"]["content"]
    )
    assert "<@zhangsan>" in robots["wx"].messages[0].body["markdown"]["content"]
    wait_until(
        lambda: "[FIRING] Database pg-001 is down" in notify.stdout_text(),
        10,
        what="the console channel's message",
    )
    wait_until(
        lambda: (
            notify.metric("aftercare_notify_messages_total", channel="wx", result="delivered") == 1
        ),
        10,
        what="the delivered count",
    )
    assert notify.metric("aftercare_notify_queue_length", channel="wx") == 0


def test_duplicates_from_an_ha_pair_are_delivered_once(notify, robots):
    body = payload([alert(1), alert(2)])
    assert notify.post("ding", body).text == "queued\n"
    assert notify.post("ding", json.loads(json.dumps(body))).text == "duplicate\n"
    wait_until(lambda: robots["ding"].messages, 15, what="the message")
    time.sleep(1)
    assert len(robots["ding"].messages) == 1
    assert notify.metric("aftercare_notify_messages_total", channel="ding", result="duplicate") == 1


def test_bad_input(notify, robots, tmp_path):
    response = notify.post("nosuch", payload([alert(1)]))
    assert response.status_code == 404
    assert (
        notify.metric(
            "aftercare_notify_messages_total", channel="_unknown", result="unknown_channel"
        )
        == 1
    )
    for bad in (b"{not json", json.dumps({"status": "firing", "alerts": "x"}), json.dumps([1, 2])):
        response = notify.post("ding", bad, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, response.text
        assert "malformed" in response.text
    assert notify.metric("aftercare_notify_messages_total", channel="ding", result="invalid") == 3
    assert list((tmp_path / "state" / "notify" / "spool" / "ding").iterdir()) == []
    assert "malformed notification; nothing spooled" in notify.stderr_text()


@pytest.mark.parametrize("mode", ["5xx", "html", "down"])
def test_a_failing_robot_is_retried_until_it_answers(notify, robots, mode):
    robot = robots["wx"]
    robot.down() if mode == "down" else setattr(robot, "mode", mode)
    assert notify.post("wx", payload([alert(7)])).status_code == 200
    wait_until(
        lambda: (
            notify.metric("aftercare_notify_messages_total", channel="wx", result="failed") >= 2
        ),
        15,
        what="two failed attempts",
    )
    assert robot.messages == []
    assert notify.metric("aftercare_notify_queue_length", channel="wx") == 1
    robot.mode = "ok"
    robot.up()
    wait_until(lambda: robot.messages, 15, what="the retried message")
    assert "数据库 pg-007 不可用" in robot.messages[0].text
    wait_until(
        lambda: notify.metric("aftercare_notify_queue_length", channel="wx") == 0,
        10,
        what="an empty queue",
    )


def test_secrets_never_appear_in_logs_metrics_or_errors(tmp_path, robots):
    for robot in robots.values():
        robot.down()  # every delivery fails, and is logged
    config = write_config(tmp_path, robots)
    secrets = [r.token for r in robots.values()] + [r.secret for r in robots.values() if r.secret]
    with NotifyProcess(config, extra=("--log.level", "debug")) as proc:
        for name in robots:
            proc.post(name, payload([alert(3)]))
        wait_until(
            lambda: all(
                proc.metric("aftercare_notify_messages_total", channel=n, result="failed") >= 2
                for n in robots
            ),
            20,
            what="failed deliveries",
        )
        outputs = {
            "log": proc.stderr_text(),
            "stdout": proc.stdout_text(),
            "metrics": proc.metrics_text(),
        }
        test = subprocess.run(
            [
                sys.executable,
                "-m",
                "exporters.notify.cli",
                "test",
                "--config.file",
                str(config),
                "--channel",
                "ding",
            ],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            timeout=60,
        )
        assert test.returncode == 1 and "FAILED: cannot reach the robot" in test.stdout
        outputs["test"] = test.stdout + test.stderr
    assert "delivery failed; will retry" in outputs["log"]
    hits = [(where, s) for where, text in outputs.items() for s in secrets if s in text]
    assert hits == []


def test_test_command_prints_the_vendor_answer(tmp_path, robots):
    config = write_config(tmp_path, robots)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "exporters.notify.cli",
            "test",
            "--config.file",
            str(config),
            "--channel",
            "lark",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "lark (feishu): delivered: code 0"
    assert "aftercare-notify 发往 lark 的测试消息" in robots["lark"].messages[0].text


@pytest.mark.parametrize(
    "change,message",
    [
        (
            lambda c: c["notify"]["channels"][0].update(secret_file="missing.secret"),
            "notify.channels[0].secret_file: cannot read the secret file",
        ),
        (
            lambda c: c["notify"]["channels"][0].pop("url_file"),
            "notify.channels[0]: a dingtalk channel needs its webhook URL: set url_file or url_env",
        ),
        (
            lambda c: c["notify"]["channels"][1].update(type="slack"),
            "notify.channels[1].type: expected one of dingtalk, feishu, wecom, webhook, console",
        ),
        (
            lambda c: c["notify"]["channels"][2].update(secret_file="ding.secret"),
            "notify.channels[2].secret_file: a wecom robot takes no signing secret",
        ),
    ],
)
def test_config_mistakes_are_one_line_and_exit_2(tmp_path, robots, change, message):
    config = write_config(tmp_path, robots)
    doc = yaml.safe_load(config.read_text())
    change(doc)
    config.write_text(yaml.safe_dump(doc))
    result = subprocess.run(
        [sys.executable, "-m", "exporters.notify.cli", "--config.file", str(config)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_more_notifications_than_the_rate_limit_are_merged_not_dropped(notify, robots):
    robot = robots["wx"]  # WeCom: 20 messages a minute, 4096 bytes each
    for n in range(30):
        body = payload([alert(n)], group=f"sys{n:02d}")
        assert notify.post("wx", body).status_code == 200

    def shown():
        return sorted(m for text in robot.texts() for m in re.findall(r"pg-(\d{3}) 不可用", text))

    wait_until(lambda: len(shown()) == 30, 20, what="all 30 alerts at the robot")
    assert shown() == [f"{n:03d}" for n in range(30)]  # each once
    assert len(robot.messages) <= 20 and robot.rejected == []
    assert notify.metric("aftercare_notify_messages_total", channel="wx", result="merged") > 0
    assert any("合并" in m.body["markdown"]["content"] for m in robot.messages)
