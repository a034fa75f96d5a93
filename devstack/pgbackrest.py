"""A real pgBackRest repository for a throwaway PostgreSQL cluster, in a temp dir under /tmp.

Debian's pgbackrest, run as the postgres OS user: WAL archived through
``archive-push``, ``stanza-create``, full and incremental backups, and ways to
break it (a lost info file, archiving that stops) the way they break in the field.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from .postgres import OS_USER, ThrowawayPostgres
from .process import Managed


class PgBackRestRepo(Managed):
    """A cluster (data checksums on) archiving into a repository of its own; a context manager."""

    def __init__(self, stanza: str = "main") -> None:
        self.stanza = stanza
        self.dir = Path(tempfile.mkdtemp(prefix="aftercare-pgbr-", dir="/tmp"))
        if os.geteuid() == 0:
            entry = pwd.getpwnam(OS_USER)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        self.conf = self.dir / "pgbackrest.conf"
        self.repo = self.dir / "repo"
        archive = f"'pgbackrest --config={self.conf} --stanza={stanza} archive-push %p'"
        self.pg = ThrowawayPostgres(
            settings={"archive_mode": "on", "wal_level": "replica", "archive_command": archive},
            initdb_args=["--data-checksums"],
        )

    @property
    def command(self) -> str:
        """The ``pgbackrest.command`` for aftercare.yml: the binary and this repository's config."""
        return f"pgbackrest --config={self.conf}"

    def start(self) -> PgBackRestRepo:
        self.pg.start()
        self.write_conf()
        self.run("stanza-create")
        return self

    def write_conf(self, *stanzas: str) -> None:
        """The repository's pgbackrest.conf: this cluster under ``self.stanza`` and any extra
        stanza names given (the same cluster, another stanza)."""
        sections = "".join(
            f"\n[{name}]\npg1-path={self.pg.data_dir}\npg1-socket-path={self.pg.socket_dir}\n"
            f"pg1-port={self.pg.port}\n"
            for name in (self.stanza, *stanzas)
        )
        self.conf.write_text(
            f"[global]\nrepo1-path={self.repo}\nrepo1-retention-full=9999\n"
            f"log-path={self.dir / 'log'}\nlock-path={self.dir / 'lock'}\n"
            f"spool-path={self.dir / 'spool'}\nstart-fast=y\narchive-timeout=30\n"
            f"log-level-console=warn\nlog-level-file=off\n{sections}"
        )
        self.conf.chmod(0o644)

    def run(
        self, *args: str, stanza: str | None = None, check: bool = True, background: bool = False
    ) -> Any:
        """``pgbackrest --stanza=S ARGS`` as the postgres OS user; the CompletedProcess, or the
        Popen when ``background``."""
        argv = ["pgbackrest", f"--config={self.conf}", f"--stanza={stanza or self.stanza}", *args]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", OS_USER, "--", *argv]
        if background:
            return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            raise RuntimeError(
                f"pgbackrest {' '.join(args)} exited {done.returncode}: {done.stderr}"
            )
        return done

    def backup(self, kind: str = "full") -> None:
        self.run("backup", f"--type={kind}")

    def info(self, stanza: str | None = None) -> dict:
        """The stanza's entry of ``pgbackrest info --output=json``, read as the test's own
        figure."""
        out = self.run("info", "--output=json", stanza=stanza).stdout
        return next(s for s in json.loads(out) if s["name"] == (stanza or self.stanza))

    def lose_info_files(self, stanza: str | None = None) -> None:
        """Delete backup.info and its copy: pgBackRest then reports 3 "missing stanza data"."""
        for name in ("backup.info", "backup.info.copy"):
            (self.repo / "backup" / (stanza or self.stanza) / name).unlink()

    def recreate_stanza(self, stanza: str) -> None:
        """Remove a stanza's backup and archive directories and create it anew."""
        for part in ("backup", "archive"):
            shutil.rmtree(self.repo / part / stanza, ignore_errors=True)
        self.run("stanza-create", stanza=stanza)

    def corrupt_a_page(self) -> None:
        """A table whose third page fails its checksum on disk (the server keeps running)."""
        conn = self.pg.connect()
        with conn.cursor() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS damaged AS "
                "SELECT g, md5(g::text) FROM generate_series(1, 10000) g"
            )
            cur.execute("CHECKPOINT")
            cur.execute("SELECT pg_relation_filepath('damaged')")
            relation = self.pg.data_dir / cur.fetchone()[0]
        conn.close()
        with open(relation, "r+b") as fh:
            fh.seek(8192 * 3 + 100)
            fh.write(b"not-a-page" * 4)

    def set_archiving(self, working: bool) -> None:
        """Stop WAL archiving (archive_command 'false') or restore it; a backup then waits,
        holding its lock, for the WAL segment it needs."""
        conn = self.pg.connect()
        with conn.cursor() as cur:
            cur.execute(
                "ALTER SYSTEM RESET archive_command"
                if working
                else "ALTER SYSTEM SET archive_command = 'false'"
            )
            cur.execute("SELECT pg_reload_conf()")
        conn.close()

    def close(self) -> None:
        try:
            self.pg.close()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
