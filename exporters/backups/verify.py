"""Ways to check that a backup file can be read back, one function each, in ``VERIFIERS``.

Each takes the file, a time limit and a cancel event, and returns
``(ok, detail)``; ``detail`` is one safe line for the log.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import signal
import subprocess
import threading
import time

VERIFY_TIMEOUT = 3600.0  # a verification still running after this has failed
_DETAIL_MAX = 300


class Cancelled(Exception):
    """The exporter is reloading or stopping; the verification is abandoned."""


def pg_restore_binary() -> str | None:
    """pg_restore on PATH, else the newest in Debian's per-version directories."""
    found = shutil.which("pg_restore")
    if found:
        return found
    candidates = glob.glob("/usr/lib/postgresql/*/bin/pg_restore")
    return max(candidates, key=lambda p: int(re.sub(r"\D", "", p.split("/")[3]) or 0), default=None)


def run_tool(argv: list[str], timeout: float, cancel: threading.Event) -> tuple[bool, str]:
    """Run a checking tool in its own process group; kill it on timeout or cancel."""
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as err:
        return False, f"cannot run {argv[0]}: {err.strerror}"
    until = time.monotonic() + timeout
    stderr = proc.stderr
    assert stderr is not None  # stderr=PIPE
    reader = threading.Thread(target=lambda: setattr(proc, "errtext", stderr.read()), daemon=True)
    reader.start()
    while proc.poll() is None:
        if cancel.is_set() or time.monotonic() >= until:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            if cancel.is_set():
                raise Cancelled()
            return False, f"{os.path.basename(argv[0])} did not finish within {timeout:g}s"
        time.sleep(0.05)
    reader.join(5)
    lines = (getattr(proc, "errtext", b"") or b"").decode("utf-8", "replace").strip().splitlines()
    detail = (lines[-1] if lines else f"exit code {proc.returncode}")[:_DETAIL_MAX]
    return proc.returncode == 0, "ok" if proc.returncode == 0 else detail


def verify_pg_restore(path: str, timeout: float, cancel: threading.Event) -> tuple[bool, str]:
    """Read the whole archive back (data included) into nowhere.

    ``pg_restore --list`` reads only the table of contents and passes a
    truncated dump; writing the full restore script to /dev/null makes
    pg_restore read and decompress every data block.  For custom and tar
    format dumps (plain .sql dumps are not pg_restore archives).
    """
    binary = pg_restore_binary()
    if binary is None:
        return False, "pg_restore not found on PATH"
    return run_tool([binary, "--file", os.devnull, path], timeout, cancel)


def verify_gzip(path: str, timeout: float, cancel: threading.Event) -> tuple[bool, str]:
    """gzip -t: every member decompresses and its CRC and length match."""
    binary = shutil.which("gzip")
    if binary is None:
        return False, "gzip not found on PATH"
    return run_tool([binary, "-t", path], timeout, cancel)


def read_sidecar(path: str) -> str | None:
    """The hex digest in ``<file>.sha256`` (sha256sum's format or the bare digest)."""
    try:
        with open(path + ".sha256", encoding="utf-8", errors="replace") as fh:
            first = fh.read(4096).split()
    except OSError:
        return None
    digest = first[0].lower() if first else ""
    return digest if re.fullmatch(r"[0-9a-f]{64}", digest) else None


def verify_sha256(path: str, timeout: float, cancel: threading.Event) -> tuple[bool, str]:
    """The file's SHA-256 matches its sidecar ``.sha256`` file."""
    expected = read_sidecar(path)
    if expected is None:
        return False, f"no readable checksum in {os.path.basename(path)}.sha256"
    until = time.monotonic() + timeout
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
                if cancel.is_set():
                    raise Cancelled()
                if time.monotonic() >= until:
                    return False, f"sha256 did not finish within {timeout:g}s"
    except OSError as err:
        return False, f"cannot read the backup: {err.strerror}"
    if digest.hexdigest() != expected:
        return False, "sha256 mismatch with the .sha256 sidecar"
    return True, "ok"


VERIFIERS = {
    "pg_restore": verify_pg_restore,
    "gzip": verify_gzip,
    "sha256": verify_sha256,
}
