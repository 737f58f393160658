"""Keeping the data directory private: the directory 0700, the SQLite files 0600.

SQLite creates ``-wal`` and ``-shm`` with the mode of the database file, so the database
file is made (empty, which SQLite takes as a new database) with 0600 before SQLite
first opens it; files from before are narrowed at every start.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlalchemy.engine import make_url

log = logging.getLogger("tessera")

SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def sqlite_path(database_url: str) -> Path | None:
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).resolve()


def make_private(data_dir: Path, database_url: str) -> None:
    """Narrow the data directory and the SQLite database files to their owner."""
    try:
        data_dir.chmod(0o700)
        path = sqlite_path(database_url)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        for suffix in SQLITE_SUFFIXES:
            file = path.with_name(path.name + suffix)
            if file.exists():
                file.chmod(0o600)
    except OSError as problem:  # not the owner, a read-only mount …: say so, keep going
        log.warning("could not make the data files private: %s", problem)
