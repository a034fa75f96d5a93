"""The follower on real files in a temp dir: rotation both ways, restarts, odd bytes, vanishing
files."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from exporters.logs.counting import LevelCounter
from exporters.logs.tail import Follower

LEVELS = {"error": re.compile("ERROR"), "warning": re.compile("WARN")}


def counter() -> LevelCounter:
    return LevelCounter(LEVELS, "lines")


def errors(f: Follower) -> int:
    return f.totals.get(("lines", "error"), 0)


def append(path: Path, text: str | bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(text.encode() if isinstance(text, str) else text)


@pytest.fixture
def logdir(tmp_path: Path) -> Path:
    d = tmp_path / "logs"
    d.mkdir()
    return d


def follower(tmp_path: Path, pattern: str, **kw) -> Follower:
    return Follower(str(tmp_path / "logs" / pattern), str(tmp_path / "state" / "src.json"), **kw)


def test_first_poll_starts_at_the_end_then_new_lines_count(tmp_path, logdir):
    append(logdir / "app.log", "ERROR before the exporter started\nERROR too\n")
    f = follower(tmp_path, "*.log")
    f.poll(counter())
    assert errors(f) == 0
    append(logdir / "app.log", "ERROR one\nINFO fine\nWARN careful\n")
    r = f.poll(counter())
    assert errors(f) == 1 and f.totals[("lines", "warning")] == 1
    assert r.lines_read == 3 and r.files == 1 and r.backlog_bytes == 0


def test_partial_last_line_waits_for_its_newline(tmp_path, logdir):
    f = follower(tmp_path, "*.log")
    f.poll(counter())
    append(logdir / "app.log", "ERROR complete\nERR")
    r = f.poll(counter())
    assert errors(f) == 0 + 1 and r.lines_read == 1
    append(logdir / "app.log", "OR finished later\n")
    r = f.poll(counter())
    assert errors(f) == 2 and r.lines_read == 1


@pytest.mark.parametrize("pattern", ["app.log", "app.log*"])
def test_rename_rotation_counts_every_line_once(tmp_path, logdir, pattern):
    """The old file's last lines are read whether or not its new name matches the glob."""
    log = logdir / "app.log"
    append(log, "")
    f = follower(tmp_path, pattern)
    f.poll(counter())
    append(log, "ERROR 1\n")
    f.poll(counter())
    append(log, "ERROR 2 written just before the rotation\n")
    os.rename(log, logdir / "app.log.1")
    append(log, "ERROR 3 in the new file\n")
    f.poll(counter())
    assert errors(f) == 3
    append(log, "ERROR 4\n")
    f.poll(counter())
    f.poll(counter())
    assert errors(f) == 4


@pytest.mark.parametrize("pattern", ["app.log", "app.log*"])
def test_copytruncate_counts_every_line_once(tmp_path, logdir, pattern):
    """A copy that matches the glob takes over the offset instead of being read again."""
    log = logdir / "app.log"
    append(log, "")
    f = follower(tmp_path, pattern)
    f.poll(counter())
    append(log, "ERROR 1\n" * 5)
    f.poll(counter())
    append(log, "ERROR 6 written just before the copy\n")
    shutil.copyfile(log, logdir / "app.log.1")
    os.truncate(log, 0)
    append(log, "ERROR after truncation\n")
    f.poll(counter())
    # the line written between the last poll and the copy is in the copy: counted
    # only when the copy is followed
    assert errors(f) == (7 if pattern == "app.log*" else 6)
    f.poll(counter())
    assert errors(f) == (7 if pattern == "app.log*" else 6)


def test_truncated_then_regrown_past_the_offset_is_read_from_start(tmp_path, logdir):
    log = logdir / "app.log"
    append(log, "")
    f = follower(tmp_path, "app.log")
    f.poll(counter())
    append(log, "ERROR a\n")
    f.poll(counter())
    os.truncate(log, 0)
    append(log, "WARN new content is longer than the old offset\nERROR b\n")
    f.poll(counter())
    assert errors(f) == 2 and f.totals[("lines", "warning")] == 1


def test_new_files_matching_the_glob_are_followed(tmp_path, logdir):
    f = follower(tmp_path, "*.log")
    r = f.poll(counter())
    assert r.files == 0
    append(logdir / "a.log", "ERROR a\n")
    append(logdir / "b.log", "ERROR b\nERROR b\n")
    append(logdir / "c.txt", "ERROR not matched\n")
    r = f.poll(counter())
    assert errors(f) == 3 and r.files == 2


def test_restart_does_not_count_again(tmp_path, logdir):
    log = logdir / "app.log"
    append(log, "")
    f = follower(tmp_path, "*.log*")
    f.poll(counter())
    append(log, "ERROR 1\nERROR 2\n")
    f.poll(counter())
    f.close()
    append(log, "ERROR 3 while the exporter was down\n")
    os.rename(log, logdir / "app.log.1")
    append(log, "ERROR 4\n")
    again = follower(tmp_path, "*.log*")  # a new object on the same state file
    again.poll(counter())
    assert errors(again) == 4
    again.poll(counter())
    third = follower(tmp_path, "*.log*")
    third.poll(counter())
    assert errors(third) == 4
    state = json.loads((tmp_path / "state" / "src.json").read_text())
    assert state["totals"] == {"lines\terror": 4} and len(state["files"]) == 2


def test_invalid_utf8_and_nul_bytes(tmp_path, logdir):
    log = logdir / "app.log"
    append(log, "")
    f = follower(tmp_path, "*.log")
    f.poll(counter())
    append(log, b"\xff\xfe\xfd ERROR \x00\x00 in binary\n\x00\x00\x00\x00\n\xc3\x28 WARN\n")
    r = f.poll(counter())
    assert r.lines_read == 3 and errors(f) == 1 and f.totals[("lines", "warning")] == 1


def test_file_deleted_between_reads_is_drained_then_forgotten(tmp_path, logdir):
    log = logdir / "app.log"
    append(log, "")
    f = follower(tmp_path, "*.log")
    f.poll(counter())
    append(log, "ERROR 1\n")
    f.poll(counter())
    append(log, "ERROR 2 written before the delete\n")
    os.unlink(log)
    r = f.poll(counter())
    assert errors(f) == 2 and r.files == 0 and not f.handles
    assert json.loads((tmp_path / "state" / "src.json").read_text())["files"] == {}


def test_bounded_read_leaves_a_backlog_for_the_next_poll(tmp_path, logdir):
    log = logdir / "app.log"
    append(log, "")
    f = follower(tmp_path, "*.log", max_bytes=1000, chunk_bytes=256, max_line=64)
    f.poll(counter())
    append(log, "ERROR 0123456789\n" * 200)  # 3400 bytes
    r = f.poll(counter())
    assert 0 < r.bytes_read <= 1000 + 64 and r.backlog_bytes == 3400 - r.bytes_read
    for _ in range(5):
        r = f.poll(counter())
    assert errors(f) == 200 and r.backlog_bytes == 0


def test_deadline_stops_reading(tmp_path, logdir):
    log = logdir / "app.log"
    append(log, "")
    f = follower(tmp_path, "*.log")
    f.poll(counter())
    append(log, "ERROR\n" * 10)
    r = f.poll(counter(), deadline=0.0)  # already past
    assert r.bytes_read == 0 and r.backlog_bytes == 60
    f.poll(counter())
    assert errors(f) == 10


def test_over_long_line_is_counted_once(tmp_path, logdir):
    log = logdir / "app.log"
    append(log, "")
    f = follower(tmp_path, "*.log", chunk_bytes=100, max_line=100)
    f.poll(counter())
    append(log, "ERROR " + "x" * 450 + " WARN\nERROR short\n")
    for _ in range(8):
        f.poll(counter())
    assert errors(f) == 2 and f.totals.get(("lines", "warning"), 0) == 0


def test_missing_path_and_unwritable_state(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    f = Follower(str(tmp_path / "nowhere" / "*.log"), str(blocker / "state" / "s.json"))
    r = f.poll(counter())
    assert r.files == 0 and r.unreadable == 0 and not r.state_saved
    assert any("cannot save the read offsets" in p for p in r.problems)


def poll_as(uid: int | None, pattern: str, state_file: str) -> dict:
    """Poll in a forked child that dropped to ``uid`` (None: stay as we are)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns into pytest
        code = 1
        try:
            os.close(read_end)
            if uid is not None:
                os.setgid(uid)
                os.setuid(uid)
            r = Follower(pattern, state_file).poll(counter())
            os.write(
                write_end,
                json.dumps(
                    {"files": r.files, "unreadable": r.unreadable, "problems": r.problems}
                ).encode(),
            )
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as fh:
        data = fh.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return json.loads(data)


def test_unreadable_file_is_reported_not_fatal():
    """Root reads everything, so the poll drops to nobody when the tests run as root."""
    base = Path(tempfile.mkdtemp(prefix="aftercare-unreadable-"))
    try:
        base.chmod(0o755)
        (base / "logs").mkdir()
        (base / "state").mkdir()
        (base / "state").chmod(0o777)
        secret = base / "logs" / "secret.log"
        secret.write_text("ERROR\n")
        secret.chmod(0o600 if os.geteuid() == 0 else 0o000)
        (base / "logs" / "open.log").write_text("ERROR\n")
        got = poll_as(
            65534 if os.geteuid() == 0 else None,
            str(base / "logs" / "*.log"),
            str(base / "state" / "s.json"),
        )
        assert got["files"] == 1 and got["unreadable"] == 1
        assert got["problems"] == [f"cannot open {secret}: Permission denied"]
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_unsaved_state_still_progresses_in_memory(tmp_path, logdir):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    log = logdir / "app.log"
    append(log, "")
    f = Follower(str(log), str(blocker / "s.json"))
    f.poll(counter())
    append(log, "ERROR 1\n")
    r = f.poll(counter())
    append(log, "ERROR 2\n")
    r = f.poll(counter())
    assert errors(f) == 2 and not r.state_saved


def test_a_second_reader_waits_for_the_lock_and_counts_nothing_twice(tmp_path, logdir):
    import fcntl

    log = logdir / "app.log"
    append(log, "")
    first = follower(tmp_path, "*.log")
    first.poll(counter())
    append(log, "ERROR 1\n")
    held = os.open(str(tmp_path / "state" / "src.json.lock"), os.O_RDWR)
    fcntl.flock(held, fcntl.LOCK_EX)
    try:
        import time

        r = follower(tmp_path, "*.log").poll(counter(), deadline=time.monotonic() + 0.1)
        assert r.bytes_read == 0 and "locked" in r.problems[0]
    finally:
        os.close(held)
    first.poll(counter())
    second = follower(tmp_path, "*.log")
    second.poll(counter())
    assert errors(first) == 1 and errors(second) == 1
