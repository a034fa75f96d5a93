"""The backups area: real files with set mtimes, real pg_dump/pg_restore, real gzip, real
pgBackRest."""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import shutil
import stat
import subprocess
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from devstack.samples import flatten
from exporters.backups import BackupsArea
from exporters.backups.fileset import LocationError
from exporters.backups.pgbackrest import parse_info
from exporters.backups.verify import pg_restore_binary
from exporters.config import validate
from exporters.runtime import Scraper
from exporters.schedule import next_fire

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOUR = 3600.0


def at(text: str, tz=SHANGHAI) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def make_file(path: Path, data: bytes | int, mtime: float) -> Path:
    path.write_bytes(data if isinstance(data, bytes) else os.urandom(data))
    os.utime(path, (mtime, mtime))
    return path


class Watch:
    """One backups area kept across scrapes, as a running exporter keeps it."""

    def __init__(self, state_dir, backup: dict, timeout="3s", tz="Asia/Shanghai"):
        self.config = validate(
            {
                "defaults": {"state_dir": str(state_dir), "timeout": timeout},
                "systems": [
                    {"name": "billing", "timezone": tz, "backups": [{"name": "nightly", **backup}]}
                ],
            }
        )
        self.scraper = Scraper([BackupsArea(self.config)])
        self.elapsed = 0.0

    def scrape(self) -> dict:
        start = time.monotonic()
        families = self.scraper.scrape(10.0)
        self.elapsed = time.monotonic() - start
        return flatten(families, "backup", "billing", "nightly")

    def close(self):
        self.scraper.close()


@pytest.fixture
def watch(tmp_state_dir):
    watches = []

    def factory(backup: dict, **kw) -> Watch:
        w = Watch(tmp_state_dir, backup, **kw)
        watches.append(w)
        return w

    yield factory
    for w in watches:
        w.close()


def wait_verified(w: Watch, limit: float = 20.0) -> dict:
    until = time.monotonic() + limit
    while True:
        m = w.scrape()
        if m.get(("aftercare_backup_verify_pending",)) == 0 and ("aftercare_backup_verified",) in m:
            return m
        assert time.monotonic() < until, "verification did not finish"
        time.sleep(0.05)


# --- freshness, size, count ----------------------------------------------------------------------


def test_fresh_backups(tmp_path, watch):
    d = tmp_path / "dumps"
    d.mkdir()
    now = time.time()
    make_file(d / "billing-1.dump", 5000, now - 50 * HOUR)
    make_file(d / "billing-2.dump", 5200, now - 26 * HOUR)
    newest = make_file(d / "billing-3.dump", 5300, now - 2 * HOUR)
    make_file(d / "notes.txt", 10, now - HOUR)  # not matched by the glob
    m = watch({"path": f"{d}/*.dump", "schedule": "30 1 * * *", "grace": "1h"}).scrape()
    assert m[("aftercare_backup_up",)] == 1
    assert m[("aftercare_backup_last_success_timestamp_seconds",)] == pytest.approx(
        newest.stat().st_mtime
    )
    assert m[("aftercare_backup_size_bytes",)] == 5300
    assert m[("aftercare_backup_kept",)] == 3
    assert m[("aftercare_backup_in_progress_files",)] == 0
    assert m[("aftercare_backup_size_change_ratio",)] == pytest.approx(5300 / 5200)
    due = m[("aftercare_backup_deadline_timestamp_seconds",)]
    assert due == next_fire("30 1 * * *", newest.stat().st_mtime, "Asia/Shanghai") + HOUR
    assert due > now
    assert ("aftercare_backup_verified",) not in m  # verify: none
    assert m[("collector", "files")] == 1


def test_stale_backup_deadline_in_system_time_zone(tmp_path, watch):
    d = tmp_path / "dumps"
    d.mkdir()
    make_file(d / "old.dump", 4096, at("2026-03-10T01:35:00"))  # Shanghai wall clock
    m = watch({"path": f"{d}/*.dump", "schedule": "30 1 * * *", "grace": "1h"}).scrape()
    # next 01:30 in Shanghai after 2026-03-10 01:35 is 2026-03-11 01:30 (= 2026-03-10 17:30 UTC)
    assert m[("aftercare_backup_deadline_timestamp_seconds",)] == at("2026-03-11T02:30:00")
    assert m[("aftercare_backup_deadline_timestamp_seconds",)] == at(
        "2026-03-10T18:30:00", ZoneInfo("UTC")
    )
    assert m[("aftercare_backup_deadline_timestamp_seconds",)] < time.time()  # overdue


def test_shrunk_backup(tmp_path, watch):
    d = tmp_path / "dumps"
    d.mkdir()
    now = time.time()
    make_file(d / "a.dump", 100_000, now - 26 * HOUR)
    make_file(d / "b.dump", 9_000, now - 2 * HOUR)
    m = watch({"path": f"{d}/*.dump", "min_size": "50KB"}).scrape()
    assert m[("aftercare_backup_size_change_ratio",)] == pytest.approx(0.09)
    assert m[("aftercare_backup_size_bytes",)] == 9000
    assert m[("aftercare_backup_min_size_bytes",)] == 50_000
    # below min_size: not a success; the last success stays the older, plausible one
    assert m[("aftercare_backup_last_success_timestamp_seconds",)] == pytest.approx(
        now - 26 * HOUR, abs=1e-3
    )
    assert m[("aftercare_backup_newest_timestamp_seconds",)] == pytest.approx(
        now - 2 * HOUR, abs=1e-3
    )


def test_no_backup_yet_deadline_from_first_look(tmp_path, watch):
    d = tmp_path / "dumps"
    d.mkdir()
    before = time.time()
    m = watch({"path": f"{d}/*.dump", "schedule": "30 1 * * *", "grace": "1h"}).scrape()
    assert m[("aftercare_backup_up",)] == 1
    assert m[("aftercare_backup_kept",)] == 0
    assert ("aftercare_backup_last_success_timestamp_seconds",) not in m
    due = m[("aftercare_backup_deadline_timestamp_seconds",)]
    assert next_fire("30 1 * * *", before - 1, "Asia/Shanghai") + HOUR <= due
    assert due <= next_fire("30 1 * * *", time.time(), "Asia/Shanghai") + HOUR


def test_partial_and_growing_files_are_not_successes(tmp_path, watch):
    d = tmp_path / "dumps"
    d.mkdir()
    now = time.time()
    done = make_file(d / "mon.dump", 3000, now - 26 * HOUR)
    make_file(d / "tue.dump.partial", 3100, now - 5)
    make_file(d / "tue.dump.tmp", 3100, now - 5)
    w = watch({"path": f"{d}/*"})
    m = w.scrape()
    assert m[("aftercare_backup_kept",)] == 1
    assert m[("aftercare_backup_in_progress_files",)] == 2
    assert m[("aftercare_backup_last_success_timestamp_seconds",)] == pytest.approx(
        done.stat().st_mtime
    )
    # a dump being written under its final name: counted only once it stops changing
    growing = d / "tue.dump"
    with open(growing, "wb") as fh:
        fh.write(os.urandom(1000))
        fh.flush()
        m = w.scrape()  # first look at a fresh file: not yet
        assert (
            m[("aftercare_backup_kept",)] == 1 and m[("aftercare_backup_in_progress_files",)] == 3
        )
        fh.write(os.urandom(2000))
        fh.flush()
        m = w.scrape()  # grew since the last look: not yet
        assert m[("aftercare_backup_kept",)] == 1
        assert m[("aftercare_backup_size_bytes",)] == 3000
    m = w.scrape()  # unchanged since the last look: complete
    assert m[("aftercare_backup_kept",)] == 2
    assert m[("aftercare_backup_size_bytes",)] == growing.stat().st_size == 3000
    assert m[("aftercare_backup_last_success_timestamp_seconds",)] == pytest.approx(
        growing.stat().st_mtime
    )
    assert m[("aftercare_backup_in_progress_files",)] == 2


def test_missing_backup_directory_is_down_with_a_log_line(tmp_path, watch, caplog):
    caplog.set_level(logging.INFO, logger="aftercare")
    m = watch({"path": f"{tmp_path}/nowhere/*.dump"}).scrape()
    assert m[("aftercare_backup_up",)] == 0
    assert m[("aftercare_backup_failure", "missing")] == 1
    assert m[("aftercare_backup_failure", "command")] == 0
    assert ("aftercare_backup_kept",) not in m
    down = [r for r in caplog.records if r.getMessage() == "target down"]
    assert len(down) == 1 and f"{tmp_path}/nowhere does not exist" in down[0].err


# --- verification --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_dump(tmp_path_factory):
    """A real custom-format pg_dump of a throwaway database on the local PostgreSQL."""
    import psycopg2

    name = f"aftercare_backup_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname=name)
        with conn, conn.cursor() as cur:
            cur.execute(
                "CREATE TABLE invoices AS SELECT g AS id, md5(g::text) AS body "
                "FROM generate_series(1, 60000) g"
            )
        conn.close()
        out = tmp_path_factory.mktemp("dump") / "billing.dump"
        pg_dump = shutil.which("pg_dump") or str(Path(pg_restore_binary()).with_name("pg_dump"))
        subprocess.run(
            [pg_dump, "-h", "127.0.0.1", "-U", "postgres", "-Fc", "-f", str(out), name],
            check=True,
            timeout=60,
        )
        yield out
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_pg_restore_verifies_a_real_dump_and_fails_a_truncated_one(tmp_path, watch, real_dump):
    d = tmp_path / "dumps"
    d.mkdir()
    now = time.time()
    good = d / "mon.dump"
    shutil.copy(real_dump, good)
    os.utime(good, (now - 26 * HOUR, now - 26 * HOUR))
    w = watch({"path": f"{d}/*.dump", "verify": "pg_restore"}, timeout="5s")
    m = wait_verified(w)
    assert m[("aftercare_backup_verified",)] == 1
    assert now - 5 <= m[("aftercare_backup_last_verify_timestamp_seconds",)] <= time.time()

    data = real_dump.read_bytes()
    bad = make_file(d / "tue.dump", data[: len(data) * 2 // 3], now - 2 * HOUR)
    # pg_restore --list reads only the table of contents: it passes the truncated dump...
    listing = subprocess.run(
        [pg_restore_binary(), "--list", str(bad)], capture_output=True, timeout=30
    )
    assert listing.returncode == 0
    # ...the full read-back does not
    m = wait_verified(w)
    assert m[("aftercare_backup_verified",)] == 0
    assert m[("aftercare_backup_size_change_ratio",)] == pytest.approx(2 / 3, abs=0.01)
    assert m[("collector", "verify")] == 1


def test_verification_runs_once_per_file_and_survives_restart(
    tmp_path, tmp_state_dir, real_dump, caplog
):
    caplog.set_level(logging.INFO, logger="aftercare")
    d = tmp_path / "dumps"
    d.mkdir()
    dump = d / "mon.dump"
    shutil.copy(real_dump, dump)
    os.utime(dump, (time.time() - HOUR, time.time() - HOUR))
    w = Watch(tmp_state_dir, {"path": f"{d}/*.dump", "verify": "pg_restore"}, timeout="5s")
    try:
        first = wait_verified(w)[("aftercare_backup_last_verify_timestamp_seconds",)]
        for _ in range(3):
            assert w.scrape()[("aftercare_backup_last_verify_timestamp_seconds",)] == first
    finally:
        w.close()
    w = Watch(
        tmp_state_dir, {"path": f"{d}/*.dump", "verify": "pg_restore"}, timeout="5s"
    )  # restart
    try:
        m = w.scrape()
        assert m[("aftercare_backup_last_verify_timestamp_seconds",)] == first
        assert m[("aftercare_backup_verified",)] == 1
        assert sum(r.getMessage() == "backup verified" for r in caplog.records) == 1
        # the same path rewritten (new mtime): verified again
        os.utime(dump, (time.time() - 120, time.time() - 120))
        m = wait_verified(w)
        assert m[("aftercare_backup_last_verify_timestamp_seconds",)] > first
    finally:
        w.close()


def test_gzip_verification(tmp_path, watch):
    d = tmp_path / "dumps"
    d.mkdir()
    now = time.time()
    payload = gzip.compress(b"INSERT INTO t VALUES (1);\n" * 20000)
    make_file(d / "mon.sql.gz", payload, now - 26 * HOUR)
    w = watch({"path": f"{d}/*.gz", "verify": "gzip"})
    m = w.scrape()  # small: verified within the scrape itself
    assert m[("aftercare_backup_verified",)] == 1 and m[("aftercare_backup_verify_pending",)] == 0
    make_file(d / "tue.sql.gz", payload[: len(payload) - 40], now - 2 * HOUR)
    m = wait_verified(w)
    assert m[("aftercare_backup_verified",)] == 0


def test_sha256_verification(tmp_path, watch):
    d = tmp_path / "dumps"
    d.mkdir()
    now = time.time()
    good = make_file(d / "mon.tar", 20000, now - 50 * HOUR)
    (d / "mon.tar.sha256").write_text(f"{hashlib.sha256(good.read_bytes()).hexdigest()}  mon.tar\n")
    w = watch({"path": f"{d}/*", "verify": "sha256"})
    m = wait_verified(w)
    assert m[("aftercare_backup_verified",)] == 1
    assert m[("aftercare_backup_kept",)] == 1  # the sidecar is not a backup
    bad = make_file(d / "tue.tar", 20000, now - 26 * HOUR)
    (d / "tue.tar.sha256").write_text("0" * 64 + "  tue.tar\n")
    assert wait_verified(w)[("aftercare_backup_verified",)] == 0
    make_file(d / "wed.tar", 20000, now - 2 * HOUR)  # no sidecar at all
    assert wait_verified(w)[("aftercare_backup_verified",)] == 0
    del bad


def test_long_verification_never_delays_a_scrape(tmp_path, watch):
    d = tmp_path / "dumps"
    d.mkdir()
    big = d / "huge.img"
    with open(big, "wb") as fh:
        fh.truncate(768 * 1024 * 1024)  # sparse: real bytes to hash, no disk used
    os.utime(big, (time.time() - HOUR, time.time() - HOUR))
    (d / "huge.img.sha256").write_text("f" * 64 + "\n")
    w = watch({"path": f"{d}/*", "verify": "sha256"}, timeout="500ms")
    m = w.scrape()
    assert w.elapsed < 1.0
    assert m[("aftercare_backup_verify_pending",)] == 1
    assert ("aftercare_backup_verified",) not in m
    assert m[("aftercare_backup_up",)] == 1 and m[("aftercare_backup_kept",)] == 1
    m = w.scrape()  # still running: joined, not restarted
    assert w.elapsed < 1.0 and m[("aftercare_backup_verify_pending",)] == 1
    m = wait_verified(w, limit=60)
    assert m[("aftercare_backup_verified",)] == 0  # the digest did not match
    assert m[("aftercare_backup_verify_duration_seconds",)] > 0.5


# --- pgBackRest: Debian's real pgbackrest, a real repository -------------------------------------


def expected_deadline(stop: float, grace: float = HOUR) -> float:
    """The next 01:30 Asia/Shanghai after ``stop``, plus the grace: worked out here, not by the
    exporter."""
    local = datetime.fromtimestamp(stop, SHANGHAI)
    fire = local.replace(hour=1, minute=30, second=0, microsecond=0)
    if fire <= local:
        fire += timedelta(days=1)
    return fire.timestamp() + grace


def test_pgbackrest_full_and_incremental_match_the_repository(pgbackrest_repo, watch):
    repo = pgbackrest_repo
    w = watch({"pgbackrest": {"stanza": "main", "command": repo.command}, "schedule": "30 1 * * *"})
    repo.backup("incr")
    info = repo.info()
    m = w.scrape()
    good = [b for b in info["backup"] if not b["error"]]
    newest = info["backup"][-1]
    assert info["status"]["code"] == 0 and newest["type"] == "incr"
    assert m[("aftercare_backup_up",)] == 1
    assert m[("aftercare_backup_pgbackrest_status_code",)] == 0
    assert m[("aftercare_backup_kept",)] == len(info["backup"])
    assert m[("aftercare_backup_running",)] == 0
    assert m[("aftercare_backup_last_success_timestamp_seconds",)] == good[-1]["timestamp"]["stop"]
    assert m[("aftercare_backup_newest_timestamp_seconds",)] == newest["timestamp"]["stop"]
    assert m[("aftercare_backup_size_bytes",)] == newest["info"]["repository"]["delta"]
    for kind in ("full", "incr"):
        stop = [b for b in good if b["type"] == kind][-1]["timestamp"]["stop"]
        assert m[("aftercare_backup_type_last_success_timestamp_seconds", kind)] == stop
    assert m[("aftercare_backup_deadline_timestamp_seconds",)] == expected_deadline(
        good[-1]["timestamp"]["stop"]
    )
    incrs = [b for b in info["backup"] if b["type"] == "incr"]
    if len(incrs) < 2:  # the first incr: nothing to compare
        assert ("aftercare_backup_size_change_ratio",) not in m
    repo.backup("incr")  # a second one is compared with the first
    info = repo.info()
    m = w.scrape()
    previous, newest = [b for b in info["backup"] if b["type"] == "incr"][-2:]
    assert m[("aftercare_backup_kept",)] == len(info["backup"])
    assert m[("aftercare_backup_size_change_ratio",)] == pytest.approx(
        newest["info"]["repository"]["delta"] / previous["info"]["repository"]["delta"]
    )


def test_pgbackrest_checksum_error_and_a_running_backup(pgbackrest_repo, watch):
    """Changes the shared repository: an incr with a page that fails its checksum (pgBackRest
    marks it error), then a backup left waiting for WAL while it holds its lock."""
    repo = pgbackrest_repo
    w = watch({"pgbackrest": {"stanza": "main", "command": repo.command}})
    repo.corrupt_a_page()
    repo.backup("incr")
    info = repo.info()
    assert info["backup"][-1]["error"] is True
    m = w.scrape()
    good = [b for b in info["backup"] if not b["error"]]
    assert m[("aftercare_backup_last_success_timestamp_seconds",)] == good[-1]["timestamp"]["stop"]
    assert (
        m[("aftercare_backup_newest_timestamp_seconds",)] == info["backup"][-1]["timestamp"]["stop"]
    )
    assert (
        m[("aftercare_backup_last_success_timestamp_seconds",)]
        < m[("aftercare_backup_newest_timestamp_seconds",)]
    )

    repo.set_archiving(False)
    running = repo.run("backup", "--type=incr", background=True)
    try:
        deadline = time.monotonic() + 20
        while w.scrape()[("aftercare_backup_running",)] != 1:
            assert time.monotonic() < deadline, "the waiting backup never showed as running"
            time.sleep(0.2)
        assert repo.info()["status"]["lock"]["backup"]["held"] is True
    finally:
        repo.set_archiving(True)
        running.communicate(timeout=60)
    assert w.scrape()[("aftercare_backup_running",)] == 0


def test_pgbackrest_broken_stanzas_report_their_status(pgbackrest_repo, watch):
    """A stanza whose info files are lost (3 missing stanza data) and a stanza name the
    repository does not have (1 missing stanza path): pgBackRest answers, the status says why."""
    repo = pgbackrest_repo
    repo.write_conf("lost")
    repo.run("stanza-create", stanza="lost")
    lost = watch({"pgbackrest": {"stanza": "lost", "command": repo.command}})
    assert lost.scrape()[("aftercare_backup_pgbackrest_status_code",)] == 2  # no valid backups
    repo.lose_info_files("lost")
    m = lost.scrape()
    assert repo.info("lost")["status"] == {
        "code": 3,
        "lock": {"backup": {"held": False}},
        "message": "missing stanza data",
    }
    assert m[("aftercare_backup_up",)] == 1
    assert m[("aftercare_backup_pgbackrest_status_code",)] == 3
    assert m[("aftercare_backup_kept",)] == 0
    assert ("aftercare_backup_last_success_timestamp_seconds",) not in m
    m = watch({"pgbackrest": {"stanza": "nosuch", "command": repo.command}}).scrape()
    assert m[("aftercare_backup_up",)] == 1
    assert m[("aftercare_backup_pgbackrest_status_code",)] == 1


def test_pgbackrest_info_without_the_stanza_is_invalid_output(pgbackrest_repo):
    """Real JSON of stanza main, asked for another stanza: unusable, never guessed at."""
    text = pgbackrest_repo.run("info", "--output=json").stdout
    assert parse_info(text, "main").status_code == 0
    with pytest.raises(LocationError) as err:
        parse_info(text, "other")
    assert err.value.reason == "invalid_output"


def text_command(tmp_path: Path) -> str:
    """A command that prints pgBackRest's text report instead of JSON (a wrong wrapper script)."""
    script = tmp_path / f"pgbackrest-text-{uuid.uuid4().hex[:6]}"
    script.write_text("#!/bin/sh\nprintf 'stanza: main\\n    status: ok\\n'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.mark.parametrize(
    "case, reason",
    [("missing-command", "command"), ("exit-nonzero", "command"), ("not-json", "invalid_output")],
)
def test_pgbackrest_failures(tmp_path, watch, case, reason):
    command = {
        "missing-command": str(tmp_path / "no-such-pgbackrest"),
        # the real binary, with a config file that is not there: it exits 55
        "exit-nonzero": f"pgbackrest --config={tmp_path / 'no-such.conf'}",
        "not-json": text_command(tmp_path),
    }[case]
    m = watch({"pgbackrest": {"stanza": "main", "command": command}}).scrape()
    assert m[("aftercare_backup_up",)] == 0
    assert m[("aftercare_backup_failure", reason)] == 1
    assert m[("collector", "pgbackrest")] == 0


# --- the exporter process ------------------------------------------------------------------------


def test_exporter_end_to_end(tmp_path, tmp_state_dir, exporter_factory, real_dump, pgbackrest_repo):
    d = tmp_path / "dumps"
    d.mkdir()
    shutil.copy(real_dump, d / "mon.dump")
    os.utime(d / "mon.dump", (time.time() - HOUR, time.time() - HOUR))
    cfg = tmp_path / "aftercare.yml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "defaults": {"state_dir": str(tmp_state_dir), "timeout": "3s"},
                "systems": [
                    {
                        "name": "billing",
                        "timezone": "Asia/Shanghai",
                        "backups": [
                            {
                                "name": "nightly",
                                "path": f"{d}/*.dump",
                                "schedule": "30 1 * * *",
                                "verify": "pg_restore",
                            },
                            {"name": "gone", "path": f"{tmp_path}/nowhere/*.dump"},
                            {
                                "name": "pgbr",
                                "pgbackrest": {
                                    "stanza": "main",
                                    "command": pgbackrest_repo.command,
                                },
                            },
                        ],
                    }
                ],
            }
        )
    )
    exporter = exporter_factory("backups", cfg)
    until = time.time() + 20
    while True:
        text = exporter.metrics_text()
        if 'aftercare_backup_verified{backup="nightly",system="billing"} 1.0' in text:
            break
        assert time.time() < until, text
        time.sleep(0.1)
    check = subprocess.run(
        ["promtool", "check", "metrics"], input=text.encode(), capture_output=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert 'aftercare_backup_up{backup="gone",system="billing"} 0.0' in text
    assert 'aftercare_backup_up{backup="pgbr",system="billing"} 1.0' in text
    samples = {(n, labels.get("backup")): v for n, labels, v in exporter.samples()}
    assert samples[("aftercare_backup_size_bytes", "nightly")] == (d / "mon.dump").stat().st_size
    good = [b for b in pgbackrest_repo.info()["backup"] if not b["error"]]
    assert (
        samples[("aftercare_backup_last_success_timestamp_seconds", "pgbr")]
        == good[-1]["timestamp"]["stop"]
    )
    assert "does not exist" in exporter.stderr_text()
