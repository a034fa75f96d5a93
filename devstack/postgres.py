"""A throwaway PostgreSQL cluster (the newest installed server) in a temp dir under /tmp, on a
free loopback port."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .ports import free_port
from .process import Managed, start_with_port_retry, tail


def _newest_server_bin() -> Path:
    """The newest installed PostgreSQL server binaries (Debian/Ubuntu layout)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _newest_server_bin()
OS_USER = "postgres"


class ThrowawayPostgres(Managed):
    """initdb + pg_ctl as the postgres OS user (trust auth, fsync off); use as a context manager."""

    def __init__(
        self,
        settings: Mapping[str, str] | None = None,
        initdb_args: Sequence[str] = (),
        startup_timeout: int = 30,
    ) -> None:
        """Create the temp dir; settings are extra ``-c name=value`` server options."""
        self.settings = dict(settings or {})
        self.initdb_args = list(initdb_args)
        self.startup_timeout = startup_timeout
        self._as_root = os.geteuid() == 0
        self.dir = Path(tempfile.mkdtemp(prefix="aftercare-pg-", dir="/tmp"))
        if self._as_root:
            entry = pwd.getpwnam(OS_USER)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        self.data_dir = self.dir / "data"
        self.socket_dir = self.dir
        self.log_path = self.dir / "postgresql.log"
        self._port: int | None = None
        self._initialized = False

    def _run(self, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run a PostgreSQL tool as the postgres OS user (runuser when we are root)."""
        argv = (["runuser", "-u", OS_USER, "--"] if self._as_root else []) + list(cmd)
        return subprocess.run(argv, cwd=self.dir, capture_output=True, text=True, timeout=timeout)

    @property
    def port(self) -> int:
        """The TCP port (chosen at the first start)."""
        if self._port is None:
            raise RuntimeError("ThrowawayPostgres has not been started")
        return self._port

    def dsn(self, user: str = "postgres", dbname: str = "postgres") -> str:
        """libpq URL for a TCP connection to this cluster (trust auth, no password)."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    def initdb(self) -> None:
        """Create the cluster (once)."""
        if self._initialized:
            return
        result = self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
            "--no-instructions",
            *self.initdb_args,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"initdb failed ({result.returncode}): {result.stdout}{result.stderr}"
            )
        self._initialized = True

    def is_running(self) -> bool:
        """Whether pg_ctl status reports a running server."""
        if not self._initialized:
            return False
        return self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "status").returncode == 0

    def start(self) -> ThrowawayPostgres:
        """initdb if needed, then pg_ctl start -w; RuntimeError with the log tail on failure."""
        self.initdb()
        if self.is_running():
            return self
        keep_port = self._port is not None

        def attempt() -> None:
            if not keep_port:
                self._port = free_port()
            options = {
                "port": str(self._port),
                "listen_addresses": "127.0.0.1",
                "fsync": "off",
                "unix_socket_directories": str(self.socket_dir),
                "logging_collector": "off",
                **self.settings,
            }
            opts = " ".join(f"-c {name}={value}" for name, value in options.items())
            result = self._run(
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_path),
                "-w",
                "-t",
                str(self.startup_timeout),
                "-o",
                opts,
                "start",
                timeout=self.startup_timeout + 10,
            )
            if result.returncode != 0:
                self.stop("immediate")
                raise RuntimeError(
                    f"pg_ctl start failed ({result.returncode}): "
                    f"{result.stdout}{result.stderr}\nlog tail:\n{tail(self.log_path)}"
                )

        if not self.log_path.exists() and self._as_root:
            self.log_path.touch()
            shutil.chown(self.log_path, OS_USER, OS_USER)
        start_with_port_retry(attempt, self.log_path, attempts=1 if keep_port else 3)
        return self

    def stop(self, mode: str = "fast") -> None:
        """pg_ctl stop -m mode (smart/fast/immediate); a no-op if the server is not running."""
        if not self._initialized:
            return
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop")

    def connect(self, user: str = "postgres", dbname: str = "postgres", **kwargs: Any) -> Any:
        """A psycopg2 connection (autocommit) to this cluster."""
        import psycopg2

        conn = psycopg2.connect(self.dsn(user, dbname), connect_timeout=5, **kwargs)
        conn.autocommit = True
        return conn

    def close(self) -> None:
        """Stop the server and remove the temp dir."""
        try:
            self.stop("fast")
            if self.is_running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
