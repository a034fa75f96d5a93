"""aftercare-job run: real subprocess jobs, their exit codes, output and the run store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

JOB_CLI = [sys.executable, "-m", "exporters.jobcli"]


def write_config(tmp_path: Path, state_dir: Path | str, extra_job: str = "") -> Path:
    cfg = tmp_path / "aftercare.yml"
    cfg.write_text(f"""
defaults: {{state_dir: "{state_dir}"}}
systems:
  - name: billing
    exchange:
      - name: tax-upload
        schedule: "0 2 * * *"
{extra_job}
""")
    return cfg


def run(
    cfg: Path, *command: str, job: str = "tax-upload", extra: tuple = (), timeout: float = 30
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*JOB_CLI, "run", "--config.file", str(cfg), "--job", job, *extra, "--", *command],
        capture_output=True,
        timeout=timeout,
    )


def summary(state_dir: Path, system="billing", job="tax-upload") -> dict:
    return json.loads((state_dir / "exchange" / system / job / "summary.json").read_text())


@pytest.fixture
def cfg(tmp_path, tmp_state_dir):
    return write_config(tmp_path, tmp_state_dir)


def test_success_passes_output_and_records(cfg, tmp_state_dir):
    before = time.time()
    done = run(
        cfg,
        "sh",
        "-c",
        "echo first; echo AFTERCARE_RECORDS=17; printf 'no newline'; echo to-stderr >&2; sleep 0.2",
    )
    after = time.time()
    assert done.returncode == 0
    assert done.stdout == b"first\nAFTERCARE_RECORDS=17\nno newline"  # byte for byte, unhidden
    assert done.stderr == b"to-stderr\n"
    s = summary(tmp_state_dir)
    assert s["runs"] == {"success": 1, "failure": 0}
    assert s["records"] == 17
    last = s["last_success"]
    assert last == s["last_run"]
    assert before <= last["start"] < last["end"] <= after
    assert last["duration"] == pytest.approx(last["end"] - last["start"])
    assert last["duration"] >= 0.2
    assert last["exit_code"] == 0 and last["records"] == 17 and last["concurrent"] is False
    # nothing left running
    assert list((tmp_state_dir / "exchange/billing/tax-upload/running").iterdir()) == []


def test_last_records_line_wins_and_binary_output_untouched(cfg, tmp_state_dir):
    payload = bytes(range(256)) * 300
    script = (
        "import sys; out=sys.stdout.buffer; out.write(b'AFTERCARE_RECORDS=1\\n'); "
        "out.write(bytes(range(256)) * 300); out.write(b'\\nAFTERCARE_RECORDS=250\\n')"
    )
    done = run(cfg, sys.executable, "-c", script)
    assert done.returncode == 0
    assert done.stdout == b"AFTERCARE_RECORDS=1\n" + payload + b"\nAFTERCARE_RECORDS=250\n"
    assert summary(tmp_state_dir)["last_run"]["records"] == 250


def test_failure_exit_code_passes_through(cfg, tmp_state_dir):
    assert run(cfg, "true").returncode == 0
    done = run(cfg, "sh", "-c", "echo AFTERCARE_RECORDS=5; exit 3")
    assert done.returncode == 3
    s = summary(tmp_state_dir)
    assert s["runs"] == {"success": 1, "failure": 1}
    assert s["last_run"]["exit_code"] == 3 and s["last_run"]["result"] == "failure"
    assert s["last_success"]["exit_code"] == 0
    assert s["last_success"]["end"] < s["last_run"]["end"]
    assert s["records"] == 5  # a failed run's reported records still count


def test_job_killed_by_signal_exits_128_plus_signal(cfg, tmp_state_dir):
    done = run(cfg, "sh", "-c", "kill -TERM $$")
    assert done.returncode == 128 + signal.SIGTERM
    assert summary(tmp_state_dir)["last_run"]["exit_code"] == 143


def test_command_not_found_is_127_and_a_recorded_failure(cfg, tmp_state_dir):
    done = run(cfg, "/nonexistent/exchange-job")
    assert done.returncode == 127
    assert b"cannot run /nonexistent/exchange-job" in done.stderr
    assert summary(tmp_state_dir)["runs"] == {"success": 0, "failure": 1}


def test_records_file(cfg, tmp_state_dir, tmp_path):
    records = tmp_path / "records.txt"
    done = run(
        cfg,
        "sh",
        "-c",
        f"echo 1234 > {records}; echo AFTERCARE_RECORDS=9",
        extra=("--records-file", str(records)),
    )
    assert done.returncode == 0
    assert summary(tmp_state_dir)["last_run"]["records"] == 1234
    # a stale file from an earlier run is not counted again
    os.utime(records, (time.time() - 3600, time.time() - 3600))
    done = run(cfg, "true", extra=("--records-file", str(records)))
    assert done.returncode == 0 and b"not written by this run" in done.stderr
    s = summary(tmp_state_dir)
    assert s["last_run"]["records"] is None and s["records"] == 1234


def test_concurrent_runs_are_detected_and_both_recorded(cfg, tmp_state_dir):
    flag = cfg.parent / "first-started"
    first = subprocess.Popen(
        [
            *JOB_CLI,
            "run",
            "--config.file",
            str(cfg),
            "--job",
            "tax-upload",
            "--",
            "sh",
            "-c",
            f"touch {flag}; sleep 1.5; echo AFTERCARE_RECORDS=2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.time() + 10
        while not flag.exists():
            assert time.time() < deadline, "first run did not start"
            time.sleep(0.02)
        running = list((tmp_state_dir / "exchange/billing/tax-upload/running").glob("*.json"))
        assert len(running) == 1 and json.loads(running[0].read_text())["pid"] == first.pid
        second = run(cfg, "sh", "-c", "echo AFTERCARE_RECORDS=3")
        assert second.returncode == 0
    finally:
        first.communicate(timeout=20)
    assert first.returncode == 0
    s = summary(tmp_state_dir)
    assert s["runs"] == {"success": 2, "failure": 0}
    assert s["concurrent_runs"] == 1
    assert s["records"] == 5
    by_records = {r["records"]: r for r in s["history"]}
    assert by_records[3]["concurrent"] is True and by_records[2]["concurrent"] is False
    assert s["last_run"]["records"] == 2  # the first run ended last


def test_many_simultaneous_finishes_lose_no_run(cfg, tmp_state_dir):
    procs = [
        subprocess.Popen(
            [
                *JOB_CLI,
                "run",
                "--config.file",
                str(cfg),
                "--job",
                "tax-upload",
                "--",
                "sh",
                "-c",
                f"sleep 0.3; echo AFTERCARE_RECORDS={i}; exit {i % 2}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(8)
    ]
    codes = [p.wait(timeout=30) for p in procs]
    assert codes == [i % 2 for i in range(8)]
    s = summary(tmp_state_dir)
    assert s["runs"] == {"success": 4, "failure": 4}
    assert s["records"] == sum(range(8))
    assert 1 <= s["concurrent_runs"] <= 7


def test_a_run_whose_recorder_was_killed_is_recorded_as_interrupted(cfg, tmp_state_dir):
    proc = subprocess.Popen(
        [*JOB_CLI, "run", "--config.file", str(cfg), "--job", "tax-upload", "--", "sleep", "30"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    running = tmp_state_dir / "exchange/billing/tax-upload/running"
    deadline = time.time() + 10
    while not (running.exists() and list(running.glob("*.json"))):
        assert time.time() < deadline
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the recorder and its job die without a word
    proc.wait(timeout=10)
    assert len(list(running.glob("*.json"))) == 1  # the marker stays behind
    done = run(cfg, "true")
    assert done.returncode == 0
    s = summary(tmp_state_dir)
    assert s["runs"] == {"success": 1, "failure": 1}
    assert s["interrupted_runs"] == 1
    assert s["concurrent_runs"] == 0  # a dead run is not a concurrent one
    assert list(running.glob("*.json")) == []


def test_unwritable_state_dir_still_runs_the_job(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the state dir should be\n")
    cfg = write_config(tmp_path, blocker / "state")
    done = run(cfg, "sh", "-c", "echo working; exit 4")
    assert done.returncode == 4
    assert done.stdout == b"working\n"
    assert b"aftercare-job: warning: cannot record the start of this run" in done.stderr
    assert b"Traceback" not in done.stderr


def test_corrupt_summary_is_set_aside_and_counting_restarts(cfg, tmp_state_dir):
    assert run(cfg, "true").returncode == 0
    store = tmp_state_dir / "exchange/billing/tax-upload"
    (store / "summary.json").write_text('{"version": 1, "runs": {"success": ')
    done = run(cfg, "true")
    assert done.returncode == 0
    assert b"corrupt run store" in done.stderr and b"set aside" in done.stderr
    assert summary(tmp_state_dir)["runs"] == {"success": 1, "failure": 0}
    assert len(list(store.glob("summary.json.corrupt-*"))) == 1


def test_bad_config_or_unknown_job_still_runs_the_job(tmp_path, cfg):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "systems:\n  - name: billing\n    exchange:\n      - {name: x, schedule: '0 25 * * *'}\n"
    )
    done = run(bad, "sh", "-c", "echo ran; exit 5", job="x")
    assert done.returncode == 5 and done.stdout == b"ran\n"
    assert b"invalid config" in done.stderr and b"schedule" in done.stderr
    done = run(cfg, "true", job="no-such-job")
    assert done.returncode == 0 and b"no exchange job 'no-such-job'" in done.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--job", "x"],
        ["run", "--job", "x", "--"],
        ["run", "--"],
        ["launch", "--job", "x", "--", "true"],
    ],
)
def test_usage_mistakes_exit_2(argv):
    done = subprocess.run([*JOB_CLI, *argv], capture_output=True, timeout=30)
    assert done.returncode == 2
    assert b"usage: aftercare-job run" in done.stderr
    assert b"Traceback" not in done.stderr


def test_console_script_is_installed(cfg, tmp_state_dir):
    script = Path(sys.executable).parent / "aftercare-job"
    done = subprocess.run(
        [str(script), "run", "--config.file", str(cfg), "--job", "tax-upload", "--", "echo", "hi"],
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 0 and done.stdout == b"hi\n"
    assert summary(tmp_state_dir)["runs"]["success"] == 1
