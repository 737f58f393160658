"""Keeping the data directory private: the directory 0700, the SQLite and key files 0600.

The process's umask is set to 077, so every file it creates — the database and its
``-wal``/``-shm`` files, keys, backups — is private to its user; files from before are
narrowed at every start.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from server.db.target import BadDatabaseURL, DatabaseTarget
from server.keyfiles import narrow

log = logging.getLogger("tessera")

SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def make_private(data_dir: Path, database_url: str) -> None:
    """Narrow the data directory and the SQLite database files to their owner."""
    os.umask(0o077)
    try:
        data_dir.chmod(0o700)
        narrow(data_dir)
        try:
            found = DatabaseTarget.parse(database_url).sqlite_path
        except BadDatabaseURL:
            return  # reported at start-up
        if found is None:
            return
        path = Path(found)
        for suffix in SQLITE_SUFFIXES:
            file = path.with_name(path.name + suffix)
            if file.exists():
                file.chmod(0o600)
    except OSError as problem:  # not the owner, a read-only mount …: say so, keep going
        log.warning("could not make the data files private: %s", problem)
