"""Space: size and free space of the filesystem holding the data path.

Runs on the exporter's host, so it only means something when the exporter
runs on the database host; it runs only for databases with ``data_path``.
"""

from __future__ import annotations

import os

from ..metrics import gauge

RUNS = ("local",)

FILESYSTEM_SIZE_BYTES = gauge(
    "aftercare_database_filesystem_size_bytes",
    "Total size of the filesystem holding the configured data_path, in bytes.",
)
FILESYSTEM_FREE_BYTES = gauge(
    "aftercare_database_filesystem_free_bytes",
    "Free space on the filesystem holding the configured data_path that the database "
    "server's (non-root) user can use, in bytes.",
)


def applies(db) -> bool:
    return bool(db.data_path)


def local(target, sink) -> None:
    st = os.statvfs(target.db.data_path)
    sink.add(FILESYSTEM_SIZE_BYTES, st.f_blocks * st.f_frsize)
    sink.add(FILESYSTEM_FREE_BYTES, st.f_bavail * st.f_frsize)
