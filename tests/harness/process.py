"""Starting and stopping the server processes the harness runs."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Callable, Sequence

import requests

ADDRESS_IN_USE = "address already in use"


def tail(path: Path, lines: int = 40) -> str:
    """Return the last lines of a text file, or a note if it cannot be read."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as err:
        return f"<cannot read {path}: {err}>"
    return "\n".join(text.splitlines()[-lines:])


def spawn(cmd: Sequence[str], log_path: Path, env: dict[str, str] | None = None,
          cwd: Path | None = None, stderr_path: Path | None = None) -> subprocess.Popen:
    """Start cmd with stdout (and stderr, unless stderr_path is given) appended to log_path."""
    out = open(log_path, "ab")
    err = open(stderr_path, "ab") if stderr_path else subprocess.STDOUT
    try:
        return subprocess.Popen(list(cmd), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True)
    finally:
        out.close()
        if stderr_path:
            err.close()  # type: ignore[union-attr]


def terminate(proc: subprocess.Popen | None, grace: float = 5.0) -> int | None:
    """Terminate proc, kill it if it is still alive after grace seconds; return its exit code."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def wait_http_ready(proc: subprocess.Popen, url: str, timeout: float, log_path: Path,
                    name: str, **request_args: object) -> None:
    """Wait until GET url answers 200; raise RuntimeError with the log tail if proc exits or time runs out."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with code {proc.returncode} before it was ready; "
                               f"log tail:\n{tail(log_path)}")
        try:
            response = requests.get(url, timeout=1, **request_args)  # type: ignore[arg-type]
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
        except requests.RequestException as err:
            last = type(err).__name__
        time.sleep(0.1)
    raise RuntimeError(f"{name} not ready at {url} after {timeout:g}s ({last}); log tail:\n{tail(log_path)}")


def start_with_port_retry(start: Callable[[], None], log_path: Path, attempts: int = 3) -> None:
    """Call start(); if it fails because the port was taken meanwhile, call it again (it picks a new port)."""
    for attempt in range(attempts):
        size = log_path.stat().st_size if log_path.exists() else 0
        try:
            start()
            return
        except RuntimeError:
            with open(log_path, "rb") as log:
                log.seek(size)
                taken = ADDRESS_IN_USE in log.read().decode(errors="replace").lower()
            if not taken or attempt == attempts - 1:
                raise
