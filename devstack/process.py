"""Starting and stopping the server processes the dev stack runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import requests

from .ports import free_port

ADDRESS_IN_USE = "address already in use"


def tail(path: Path, lines: int = 40) -> str:
    """Return the last lines of a text file, or a note if it cannot be read."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as err:
        return f"<cannot read {path}: {err}>"
    return "\n".join(text.splitlines()[-lines:])


def spawn(
    cmd: Sequence[str],
    log_path: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stderr_path: Path | None = None,
) -> subprocess.Popen:
    """Start cmd with stdout (and stderr, unless stderr_path is given) appended to log_path."""
    out = open(log_path, "ab")
    err = open(stderr_path, "ab") if stderr_path else subprocess.STDOUT
    try:
        return subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
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


def wait_http_ready(
    proc: subprocess.Popen,
    url: str,
    timeout: float,
    log_path: Path,
    name: str,
    **request_args: object,
) -> None:
    """Wait until GET url answers 200; raise RuntimeError with the log tail if proc exits or
    time runs out."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{name} exited with code {proc.returncode} before it was ready; "
                f"log tail:\n{tail(log_path)}"
            )
        try:
            response = requests.get(url, timeout=1, **request_args)  # type: ignore[arg-type]
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
        except requests.RequestException as err:
            last = type(err).__name__
        time.sleep(0.1)
    raise RuntimeError(
        f"{name} not ready at {url} after {timeout:g}s ({last}); log tail:\n{tail(log_path)}"
    )


def start_with_port_retry(start: Callable[[], None], log_path: Path, attempts: int = 3) -> None:
    """Call start(); if it fails because the port was taken meanwhile, call it again (it picks
    a new port)."""
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


class Managed:
    """Context manager protocol for the dev stack's processes: start on entry
    (closing again if the start fails), close on exit."""

    def start(self):  # pragma: no cover - subclasses define it
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - subclasses define it
        raise NotImplementedError

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()


class LocalServer(Managed):
    """A server answering HTTP on a free loopback port, its files in a temp dir.

    A subclass names itself (``name``) and its command line (``command()``),
    and may prepare files before each start attempt (``prepare()``); this
    class owns the port, the wait for readiness, stopping and cleaning up.
    """

    name = "server"
    ready_path = "/-/ready"

    def __init__(self, prefix: str, startup_timeout: float) -> None:
        self.startup_timeout = startup_timeout
        self.dir = Path(tempfile.mkdtemp(prefix=prefix))
        self.log_path = self.dir / f"{self.name.split()[0]}.log"
        self.port: int | None = None
        self.process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        """host:port of the web listener."""
        if self.port is None:
            raise RuntimeError(f"{self.name} has not been started")
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """Base URL, without a trailing slash."""
        return f"http://{self.address}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def prepare(self) -> None:
        """Called before each start attempt (e.g. to write the config)."""

    def spawn(self) -> subprocess.Popen:
        return spawn(self.command(), self.log_path)

    def ready_log(self) -> Path:
        """The file whose tail explains a failed start."""
        return self.log_path

    def ready_args(self) -> dict:
        """Extra arguments of the readiness request (e.g. credentials)."""
        return {}

    def start(self):
        """Start and wait for the readiness URL; RuntimeError with the log tail on failure."""
        if self.process is not None and self.process.poll() is None:
            return self
        keep_port = self.port is not None

        def attempt() -> None:
            if not keep_port:
                self.port = free_port()
            self.prepare()
            self.process = self.spawn()
            try:
                wait_http_ready(
                    self.process,
                    f"{self.url}{self.ready_path}",
                    self.startup_timeout,
                    self.ready_log(),
                    self.name,
                    **self.ready_args(),
                )
            except RuntimeError:
                terminate(self.process)
                raise

        start_with_port_retry(attempt, self.ready_log(), attempts=1 if keep_port else 3)
        return self

    def stop(self, grace: float = 5.0) -> int | None:
        """SIGTERM, SIGKILL after ``grace`` seconds; return the exit code. Files stay for a
        restart."""
        code = terminate(self.process, grace)
        self.process = None
        return code

    def close(self) -> None:
        """Stop and remove the temp dir."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the log."""
        return tail(self.log_path, lines)
