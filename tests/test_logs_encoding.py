"""Logs not written in UTF-8: GBK, GB18030, Big5, UTF-16 files written here, counted exactly."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from devstack.exporter import ExporterProcess
from exporters.logs.areas import DatabaseLogArea, ExchangeLogArea, LogSourcesArea
from exporters.logs.counting import LevelCounter
from exporters.logs.encoding import UnsupportedEncoding, line_codec
from exporters.logs.tail import Follower
from tests.test_logs_areas import config, scrape, value

LEVELS = {"error": "错误|錯誤|ERROR", "warning": "警告|WARN"}
SRC = {"system": "billing", "source": "app"}

# 3 errors (2 Chinese, 1 ASCII), 2 warnings, 1 line of neither; Chinese also elsewhere
TEXT = (
    "2026-12-01 08:00:00 [错误] 数据库连接失败\n"
    "2026-12-01 08:00:01 [信息] 服务已启动\n"
    "2026-12-01 08:00:02 [警告] 磁盘空间不足\n"
    "2026-12-01 08:00:03 ERROR 上传失败\n"
    "2026-12-01 08:00:04 WARN retry 重试\n"
    "2026-12-01 08:00:05 [错误] 用户 张三 登录失败\n"
)
EXPECTED = {"error": 3, "warning": 2}
# the same in Traditional characters, for Big5 (and, with 啟 碟 -> 起 盤, Shift-JIS)
TRADITIONAL = (
    "2026-12-01 08:00:00 [錯誤] 資料庫連線失敗\n"
    "2026-12-01 08:00:01 [資訊] 服務已啟動\n"
    "2026-12-01 08:00:02 [警告] 磁碟空間不足\n"
    "2026-12-01 08:00:03 ERROR 上傳失敗\n"
    "2026-12-01 08:00:04 WARN retry 重試\n"
    "2026-12-01 08:00:05 [錯誤] 使用者 張三 登入失敗\n"
)


def counts(follower: Follower, counter: LevelCounter) -> dict:
    follower.poll(counter)
    return {k[1]: v for k, v in follower.totals.items()}


def level_counter() -> LevelCounter:
    return LevelCounter(LEVELS, "lines")


def test_gbk_log_is_counted_exactly(tmp_path):
    """The issue's case: GBK log, levels 错误|ERROR; before, only the ASCII lines counted."""
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    follower = Follower(str(log), str(tmp_path / "state.json"), encoding="gbk")
    counter = level_counter()
    follower.anchor()
    log.write_bytes(TEXT.encode("gbk"))
    assert "错误".encode("gbk") not in TEXT.encode("utf-8")  # the bytes really differ
    assert counts(follower, counter) == EXPECTED
    assert follower.state["lines"] == 6
    assert follower.state["decode_errors"] == 0


@pytest.mark.parametrize(
    "encoding, bom",
    [
        ("gb18030", b""),
        ("big5", b""),
        ("utf-16", "\ufeff".encode("utf-16-be")),
        ("utf-16", "\ufeff".encode("utf-16-le")),
        ("utf-16", b""),
        ("utf-16-le", b""),
        ("utf-16-be", b""),
        ("utf-32", "\ufeff".encode("utf-32-be")),
        ("shift_jis", b""),
    ],
)
def test_other_encodings_are_counted_exactly(tmp_path, encoding, bom):
    order = {b"\xfe\xff": "utf-16-be", b"\x00\x00\xfe\xff": "utf-32-be"}.get(bom)
    data_as = order or {"utf-16": "utf-16-le", "utf-32": "utf-32-le"}.get(encoding, encoding)
    japanese = TRADITIONAL.replace("啟", "起").replace("碟", "盤")
    text = {"big5": TRADITIONAL, "shift_jis": japanese}.get(encoding, TEXT)
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    follower = Follower(str(log), str(tmp_path / "state.json"), encoding=encoding)
    follower.anchor()
    log.write_bytes(bom + text.encode(data_as))
    assert counts(follower, level_counter()) == EXPECTED
    assert follower.state["lines"] == 6
    assert follower.state["decode_errors"] == 0


def test_a_pattern_anchored_at_line_start_matches_the_first_line_after_a_bom(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    follower = Follower(str(log), str(tmp_path / "state.json"), encoding="utf-16")
    follower.anchor()
    log.write_bytes("\ufeff错误 一\n错误 二\n".encode("utf-16-le"))
    follower.poll(LevelCounter({"error": "^错误"}, "lines"))
    assert follower.totals == {("lines", "error"): 2}


@pytest.mark.parametrize("encoding", ["gbk", "utf-16-le", "utf-16-be", "big5"])
def test_a_character_written_in_two_writes_is_counted_once_it_is_complete(tmp_path, encoding):
    """A poll between the two halves of one character sees a partial line and waits."""
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    follower = Follower(str(log), str(tmp_path / "state.json"), encoding=encoding)
    counter = level_counter()
    follower.anchor()
    line = ("[錯誤] 失敗\n" if encoding == "big5" else "[错误] 失败\n").encode(encoding)
    split = 3 if encoding.startswith("utf-16") else 2  # inside 错, and half a code unit
    with open(log, "ab") as fh:
        fh.write(line[:split])
        fh.flush()
        assert counts(follower, counter) == {}
        assert follower.state["lines"] == 0
        fh.write(line[split:])
        fh.flush()
        assert counts(follower, counter) == {"error": 1}
    assert follower.state["lines"] == 1
    assert follower.state["decode_errors"] == 0


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-16", "utf-16-be"])
def test_chunk_boundaries_inside_characters_change_nothing(tmp_path, encoding):
    """Reads of 7 bytes (odd, and smaller than a line) cut characters and code units anywhere."""
    log = tmp_path / "app.log"
    data = ("\ufeff" if encoding == "utf-16" else "") + TEXT * 5
    log.write_bytes(b"")
    follower = Follower(
        str(log), str(tmp_path / "state.json"), encoding=encoding, chunk_bytes=7, max_line=64
    )
    follower.anchor()
    log.write_bytes(data.encode(encoding if encoding != "utf-16" else "utf-16-le"))
    assert counts(follower, level_counter()) == {"error": 15, "warning": 10}
    assert follower.state["lines"] == 30
    assert follower.state["decode_errors"] == 0


@pytest.mark.parametrize("encoding", ["gbk", "utf-16-le"])
def test_an_over_long_line_is_counted_once_by_its_head_cut_on_a_character(tmp_path, encoding):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    follower = Follower(
        str(log), str(tmp_path / "state.json"), encoding=encoding, chunk_bytes=64, max_line=61
    )
    follower.anchor()
    long = "警告" + "错" * 200 + "误\n"  # 错误 only past the head
    log.write_bytes((long + "错误\n").encode(encoding))
    assert counts(follower, level_counter()) == {"warning": 1, "error": 1}
    assert follower.state["lines"] == 2
    assert follower.state["decode_errors"] == 0  # the cut is not an invalid byte


def test_invalid_bytes_are_counted_and_never_crash(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    follower = Follower(str(log), str(tmp_path / "state.json"), encoding="gbk")
    follower.anchor()
    with open(log, "ab") as fh:
        fh.write("错误 一\n".encode("gbk"))
        fh.write(b"\xff\x80 broken \x81\n")  # 3 invalid sequences
        fh.write("警告 二\n".encode("gbk"))
    assert counts(follower, level_counter()) == {"error": 1, "warning": 1}
    assert follower.state["decode_errors"] == 3
    assert follower.state["lines"] == 3


def test_a_real_replacement_character_is_not_a_decode_error(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    follower = Follower(str(log), str(tmp_path / "state.json"), encoding="gb18030")
    follower.anchor()
    log.write_bytes("错误 \ufffd in the text\n".encode("gb18030") + b"\x81\n")
    follower.poll(level_counter())
    assert follower.state["decode_errors"] == 1
    assert follower.totals == {("lines", "error"): 1}


def test_utf16_lone_surrogate_and_trailing_half_unit(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    follower = Follower(str(log), str(tmp_path / "state.json"), encoding="utf-16-le")
    follower.anchor()
    log.write_bytes(
        "错误 a\n".encode("utf-16-le") + b"\x00\xd8" + "\n".encode("utf-16-le") + b"\x41"
    )  # half a code unit at the end
    follower.poll(level_counter())
    assert follower.state["decode_errors"] == 1
    assert follower.state["lines"] == 2
    assert follower.state["files"] and all(
        e["offset"] % 2 == 0 for e in follower.state["files"].values()
    )


@pytest.mark.parametrize("name", ["gbk2", "utf-7", "iso2022_jp", "rot13", "cp037", "hz"])
def test_encodings_that_cannot_be_followed_are_refused(name):
    with pytest.raises(UnsupportedEncoding):
        line_codec(name)


def test_a_newline_byte_inside_utf16_characters_is_not_a_line_end():
    """U+0A4E is 4E 0A in UTF-16-LE and U+4E0A (上) is 0A 4E: neither ends a line."""
    codec = line_codec("utf-16-le")
    data = "上\u0a4e一\n".encode("utf-16-le")
    assert data.count(b"\n") == 3
    assert codec.last_line_end(data) == len(data)
    assert codec.last_line_end(data[:-2]) == 0
    assert codec.first_line_end(data) == len(data)


def test_rotation_and_a_restart_with_an_encoding(tmp_path):
    """A GBK source through the real area: rename rotation loses nothing, a restart recounts
    nothing, invalid bytes are exposed per source."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_bytes(b"")
    cfg = config(
        tmp_path,
        logs=[
            {"source": "app", "path": str(logs / "app.log*"), "levels": LEVELS, "encoding": "GBK"}
        ],
    )
    area = LogSourcesArea(cfg)
    s = scrape(area)
    assert value(s, "aftercare_log_decode_errors_total", **SRC) == 0
    with open(logs / "app.log", "ab") as fh:
        fh.write(TEXT.encode("gbk"))
    s = scrape(area)
    assert value(s, "aftercare_log_lines_total", level="error", **SRC) == 3
    assert value(s, "aftercare_log_lines_total", level="warning", **SRC) == 2
    with open(logs / "app.log", "ab") as fh:
        fh.write("[错误] 轮转前最后一行\n".encode("gbk"))
    (logs / "app.log").rename(logs / "app.log.1")
    (logs / "app.log").write_bytes("[警告] 新文件\n".encode("gbk") + b"\xfe\n")
    s = scrape(area)
    assert value(s, "aftercare_log_lines_total", level="error", **SRC) == 4
    assert value(s, "aftercare_log_lines_total", level="warning", **SRC) == 3
    assert value(s, "aftercare_log_decode_errors_total", **SRC) == 1
    for t in area.targets:
        t.close()
    restarted = LogSourcesArea(cfg)
    s = scrape(restarted)
    assert value(s, "aftercare_log_lines_total", level="error", **SRC) == 4
    assert value(s, "aftercare_log_decode_errors_total", **SRC) == 1
    assert value(s, "aftercare_log_read_lines_total", **SRC) == 9


def test_job_log_in_utf16(tmp_path):
    job_log = tmp_path / "tax-upload.log"
    job_log.write_bytes(b"")
    cfg = config(
        tmp_path,
        exchange=[
            {
                "name": "tax-upload",
                "log": {"path": str(job_log), "levels": LEVELS, "encoding": "utf-16"},
            }
        ],
    )
    area = ExchangeLogArea(cfg)
    scrape(area)
    job_log.write_bytes(("\ufeff" + TEXT).encode("utf-16-be"))
    s = scrape(area)
    labels = {"system": "billing", "exchange": "tax-upload"}
    assert value(s, "aftercare_exchange_log_lines_total", level="error", **labels) == 3
    assert value(s, "aftercare_exchange_log_decode_errors_total", **labels) == 0


def test_database_log_in_gbk(tmp_path):
    """A PostgreSQL stderr log in Simplified Chinese written by a server with a GBK client
    encoding for its log: severities 错误 and 致命错误 counted."""
    log = tmp_path / "postgresql.log"
    log.write_bytes(b"")
    cfg = config(
        tmp_path,
        databases=[
            {
                "name": "pg",
                "type": "postgresql",
                "dsn": "postgresql://postgres@127.0.0.1:5432/postgres",
                "log": {"path": str(log), "encoding": "gbk"},
            }
        ],
    )
    area = DatabaseLogArea(cfg)
    scrape(area)
    log.write_bytes(
        (
            '2026-12-01 08:00:00 CST [101] 错误:  关系 "t" 不存在\n'
            "2026-12-01 08:00:00 CST [101] 语句:  select * from t\n"
            '2026-12-01 08:00:01 CST [102] 致命错误:  用户 "x" 认证失败\n'
            "2026-12-01 08:00:02 CST [103] 日志:  检查点开始\n"
        ).encode("gbk")
    )
    s = scrape(area)
    labels = {"system": "billing", "database": "pg"}
    assert value(s, "aftercare_database_log_messages_total", severity="error", **labels) == 1
    assert value(s, "aftercare_database_log_messages_total", severity="fatal", **labels) == 1
    assert value(s, "aftercare_database_log_decode_errors_total", **labels) == 0


def test_services_exporter_counts_a_gbk_log(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_bytes(b"")
    cfg = {
        "defaults": {"timeout": "3s", "state_dir": str(tmp_path / "state")},
        "systems": [
            {
                "name": "billing",
                "logs": [
                    {
                        "source": "app",
                        "path": str(logs / "app.log"),
                        "levels": LEVELS,
                        "encoding": "gbk",
                    }
                ],
            }
        ],
    }
    file = tmp_path / "aftercare.yml"
    file.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    with ExporterProcess("services", file) as exporter:
        exporter.metrics_text()
        with open(logs / "app.log", "ab") as fh:
            fh.write(TEXT.encode("gbk") + b"\x80\n")
        text = exporter.metrics_text()
    assert 'aftercare_log_lines_total{level="error",source="app",system="billing"} 3.0' in text
    assert 'aftercare_log_lines_total{level="warning",source="app",system="billing"} 2.0' in text
    assert 'aftercare_log_decode_errors_total{source="app",system="billing"} 1.0' in text
    check = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_an_unknown_encoding_is_a_one_line_config_error(tmp_path):
    file = tmp_path / "aftercare.yml"
    file.write_text(
        yaml.safe_dump(
            {
                "systems": [
                    {
                        "name": "billing",
                        "logs": [
                            {"source": "app", "path": str(tmp_path / "app.log"), "encoding": "gbk2"}
                        ],
                    }
                ]
            }
        )
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "exporters.cli",
            "services",
            "--config.file",
            str(file),
            "--web.listen-address",
            "127.0.0.1:0",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"{file}: systems[0].logs[0].encoding: unknown encoding 'gbk2'" in lines[0]
    assert "Traceback" not in result.stderr


def test_utf8_stays_the_zero_copy_path(tmp_path):
    """The default hands each chunk to the counter as read."""
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    seen = []
    follower = Follower(str(log), str(tmp_path / "state.json"))
    follower.anchor()
    log.write_bytes(TEXT.encode("utf-8"))
    follower.poll(lambda chunk: seen.append(chunk) or Counter())
    assert seen == [TEXT.encode("utf-8")]
    assert Path(follower.state_file).exists()


@pytest.mark.parametrize(
    "name",
    [
        "gbk",
        "gb18030",
        "big5",
        "shift_jis",
        "euc_jp",
        "euc_kr",
        "cp949",
        "johab",
        "cp1252",
        "koi8_r",
    ],
)
def test_random_bytes_never_lose_a_line_end(name):
    """Whatever the bytes, every newline stays a line end in the decoded text (a CJK decoder
    may report an invalid sequence running over one: decoding resumes at the next byte)."""
    import random

    codec = line_codec(name)
    rnd = random.Random(name)
    words = "错误警告信息调试用户登录失败數據連線日本語テスト한국어，。（）Привет"
    for _ in range(200):
        pieces = []
        for _ in range(rnd.randint(1, 30)):
            kind = rnd.random()
            if kind < 0.4:
                text = "".join(rnd.choice(words) for _ in range(rnd.randint(1, 4)))
                pieces.append(text.encode(name, "ignore"))
            elif kind < 0.7:
                pieces.append(
                    rnd.choice(
                        [b" ", b"\n", b"\t", b"abc", b"0", b"]", b"ERROR ", b"\x7f", b"\r\n", b"@"]
                    )
                )
            else:
                pieces.append(bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 3))))
        data = b"".join(pieces) + b"\n"
        seen: list[bytes] = []

        def keep(chunk: bytes, seen: list[bytes] = seen) -> Counter:
            seen.append(chunk)
            return Counter()

        _, lines, errors = codec.count(data, False, keep)
        text = b"".join(seen)
        assert lines == text.count(b"\n") == data.count(b"\n")
        if name != "gb18030":  # the only one here that can write a real U+FFFD
            assert errors == text.decode("utf-8").count("\ufffd")


def test_a_chunk_of_many_pieces_and_a_line_longer_than_a_piece(tmp_path):
    """Chunks are decoded and counted a piece (256 KiB) at a time: nothing is lost or
    counted twice at piece ends, and a line longer than a piece stays one line."""
    from exporters.logs.encoding import PIECE_BYTES

    log = tmp_path / "app.log"
    log.write_bytes(b"")
    follower = Follower(str(log), str(tmp_path / "state.json"), encoding="gbk")
    follower.anchor()
    long_line = "信息 " + "数据" * (PIECE_BYTES // 3) + " 错误\n"  # > one piece in GBK
    text = TEXT * 3000 + long_line + TEXT * 3000
    data = text.encode("gbk")
    assert len(data) > 4 * PIECE_BYTES
    log.write_bytes(data)
    assert counts(follower, level_counter()) == {"error": 3 * 6000 + 1, "warning": 2 * 6000}
    assert follower.state["lines"] == 6 * 6000 + 1
    assert follower.state["bytes"] == len(data)
