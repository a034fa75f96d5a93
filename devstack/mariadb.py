"""A throwaway MariaDB server (Debian's mariadbd) in a temp dir under /tmp, on a free loopback
port."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .ports import free_port
from .process import Managed, tail

OS_USER = "mysql"


class ThrowawayMariaDB(Managed):
    """mariadb-install-db + mariadbd as the mysql OS user, root without a password; the error log
    and the slow query log in the temp dir. ``settings`` are extra ``--name=value`` options."""

    def __init__(
        self, settings: Mapping[str, str] | None = None, startup_timeout: float = 30
    ) -> None:
        self.settings = dict(settings or {})
        self.startup_timeout = startup_timeout
        self.dir = Path(tempfile.mkdtemp(prefix="aftercare-mariadb-", dir="/tmp"))
        if os.geteuid() == 0:
            entry = pwd.getpwnam(OS_USER)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        self.data_dir = self.dir / "data"
        self.error_log = self.dir / "error.log"
        self.slow_log = self.dir / "slow.log"
        self.port: int | None = None
        self.process: subprocess.Popen | None = None

    def start(self) -> ThrowawayMariaDB:
        user = ["--user=" + OS_USER] if os.geteuid() == 0 else []
        if not self.data_dir.exists():
            done = subprocess.run(
                [
                    "mariadb-install-db",
                    "--no-defaults",
                    *user,
                    f"--datadir={self.data_dir}",
                    "--skip-test-db",
                    "--auth-root-authentication-method=normal",
                ],
                capture_output=True,
                text=True,
                timeout=120,
            )
            if done.returncode != 0:
                raise RuntimeError(f"mariadb-install-db failed: {done.stdout}{done.stderr}")
        self.port = free_port()
        options = {
            "datadir": str(self.data_dir),
            "port": str(self.port),
            "bind-address": "127.0.0.1",
            "socket": str(self.dir / "mariadb.sock"),
            "pid-file": str(self.dir / "mariadb.pid"),
            "log-error": str(self.error_log),
            "skip-name-resolve": "1",
            **self.settings,
        }
        argv = ["mariadbd", "--no-defaults", *user, *(f"--{k}={v}" for k, v in options.items())]
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                self.connect().close()
                return self
            except Exception:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mariadbd did not start:\n{tail(self.error_log)}") from None
                time.sleep(0.2)

    def dsn(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/"

    def connect(self, **kwargs: Any) -> Any:
        import pymysql

        return pymysql.connect(
            host="127.0.0.1",
            port=self.port,
            user="root",
            connect_timeout=5,
            autocommit=True,
            **kwargs,
        )

    def close(self) -> None:
        try:
            if self.process is not None and self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=10)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
