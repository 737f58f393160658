"""How every SQLite connection is set up, ORM and raw alike (see ``server.db``)."""

from __future__ import annotations

import sqlite3
from typing import Any

from server.db import lowered

# How long a connection waits for another's lock before giving up (SQLITE_BUSY), unless
# the URL says otherwise (``?timeout=`` in seconds). Writers hold the lock for
# milliseconds; past this the request answers 503 (``server.db.busy``).
BUSY_TIMEOUT_MS = 5000
# Pages reached through a memory map are read without a system call each; card and check
# lookups pick members at random, so most pages are reached sooner or later.
MMAP_BYTES = 1 << 30


def prepare(
    connection: Any, *, checkpoints: bool = True, busy_timeout_ms: int | None = None
) -> None:
    """Pragmas for one connection: WAL, foreign keys, the busy timeout, memory-mapped reads.

    ``connection`` is a ``sqlite3.Connection`` or SQLAlchemy's aiosqlite adapter of one
    (both have ``cursor()``). ``checkpoints=False`` leaves WAL checkpoints to a thread
    (the event-loop connection must never run one itself). ``busy_timeout_ms``: the
    URL's ``?timeout=`` (``DatabaseTarget.sqlite_busy_timeout_ms``), else ``BUSY_TIMEOUT_MS``.
    """
    busy = BUSY_TIMEOUT_MS if busy_timeout_ms is None else busy_timeout_ms
    cursor = connection.cursor()
    try:
        for pragma in (
            "journal_mode=WAL",
            "foreign_keys=ON",
            f"busy_timeout={busy}",
            "synchronous=NORMAL",  # WAL: commits append; durable at checkpoints
            f"mmap_size={MMAP_BYTES}",
            f"wal_autocheckpoint={1000 if checkpoints else 0}",
        ):
            cursor.execute(f"PRAGMA {pragma}")
    finally:
        cursor.close()


def connect(
    path: str, *, checkpoints: bool = True, busy_timeout_ms: int | None = None
) -> sqlite3.Connection:
    """A raw connection that manages its own transactions (``isolation_level=None``)."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    lowered.register(connection)
    prepare(connection, checkpoints=checkpoints, busy_timeout_ms=busy_timeout_ms)
    return connection


def begin_without_waiting(connection: sqlite3.Connection) -> bool:
    """Take the write lock if it is free (True); never wait for it (the event loop's own
    connection must not block the loop)."""
    (busy,) = connection.execute("PRAGMA busy_timeout").fetchone()
    connection.execute("PRAGMA busy_timeout=0")
    try:
        connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return False
        raise
    finally:
        connection.execute(f"PRAGMA busy_timeout={int(busy)}")
    return True
