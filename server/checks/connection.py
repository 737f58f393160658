"""The live check's own SQLite connection: the member lookup and the check log share it.

SQLite empties a connection's page cache whenever another connection has written to
the database since its last read. The check log is written every moment a gate is
busy; through a connection of its own, each batch emptied the lookup's cache, and a
lookup cost about twice as much (measured in the server: 46 µs against 22 µs with
no log at all). Written through the same connection, the cache stays. Both run on
the event loop's thread, one after the other, so the connection is never shared
between threads; WAL checkpoints use a connection of their own in a worker thread.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy.engine import make_url

READ_PATIENCE_MS = 2000  # a lookup waits this long for a lock (rare in WAL mode)
# Pages reached through a memory map are read without a system call each; checks pick
# members at random, so most pages of the members table are reached sooner or later.
MMAP_BYTES = 1 << 30


def sqlite_file(database_url: str) -> str | None:
    """The database file of a SQLite URL (None for other databases and in-memory ones)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return url.database


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout={READ_PATIENCE_MS}")
    conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
    conn.execute("PRAGMA synchronous=NORMAL")  # WAL: commits append, no fsync
    conn.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run in a thread
    return conn


def begin_without_waiting(conn: sqlite3.Connection) -> bool:
    """Take the write lock if it is free (True); never wait for it on the event loop."""
    conn.execute("PRAGMA busy_timeout=0")
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return False
        raise
    finally:
        conn.execute(f"PRAGMA busy_timeout={READ_PATIENCE_MS}")
    return True


def file_of(conn: sqlite3.Connection) -> str:
    return str(conn.execute("PRAGMA database_list").fetchone()[2])
