"""Writing the check log: every check, failures too, batched off the hot path.

The live page hands its entry to ``CheckLogWriter.add``; a short moment later one
transaction writes every entry gathered meanwhile, and a clean shutdown writes what is
left. On SQLite that is one ``executemany`` of the rows, run on the event loop itself
through the hot connection the member lookup uses (see ``server.db.hot``): a few
microseconds per row, never waiting — the write
lock is tried without a timeout, and when another writer holds it the batch waits for
the next round. WAL checkpoints (the slow, syncing part) run in a worker thread as one
call. A thread per batch would cost more than the write: it takes the GIL back from
the event loop over and over. Elsewhere it is one SQLAlchemy Core statement. Readers
(the report pages) call ``flush`` first, so what they show is complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.checks.decide import Verdict
from server.checks.models import CheckEntry
from server.database import sqlite_timestamp
from server.db import sqlite as sqlite_setup
from server.db.hot import HotConnections
from server.db.outage import OutageLog

log = logging.getLogger("tessera.checks")
CHECK_LOG = cast(Table, CheckEntry.__table__)
FLUSH_DELAY = 0.2
CHECKPOINT_SECONDS = 2.0
WAL_LIMIT = 64 * 1024 * 1024  # bytes of WAL file before a checkpoint truncates it
FLUSH_PATIENCE = 10.0  # seconds ``flush`` waits for another writer before giving up
MAX_BATCH = 2000
MAX_PENDING = 50_000
COLUMNS = (
    "checked_at",
    "recorded_at",
    "checker_id",
    "member_id",
    "result",
    "reason",
    "code_issued_at",
    "key_id",
    "source",
    "client_ref",
)
SQLITE_INSERT = (
    f"INSERT INTO check_log ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
)


def entry_for(
    verdict: Verdict, *, checker_id: int | None, now: dt.datetime, source: str = "online"
) -> dict[str, Any]:
    return {
        "checked_at": now,
        "recorded_at": now,
        "checker_id": checker_id,
        "member_id": verdict.member.member_id if verdict.member else None,
        "result": verdict.result.key,
        "reason": verdict.reason,
        "code_issued_at": verdict.code.issued_at if verdict.code else None,
        "key_id": verdict.key_id,
        "source": source,
        "client_ref": None,
    }


CHECKED, RECORDED, ISSUED = (
    COLUMNS.index(c) for c in ("checked_at", "recorded_at", "code_issued_at")
)


def _sqlite_row(entry: dict[str, Any]) -> list[Any]:
    row = [entry[column] for column in COLUMNS]
    row[CHECKED] = sqlite_timestamp(entry["checked_at"])
    # A live check is recorded the moment it is made: one moment, formatted once.
    recorded = entry["recorded_at"]
    same = recorded is entry["checked_at"]
    row[RECORDED] = row[CHECKED] if same else sqlite_timestamp(recorded)
    if row[ISSUED] is not None:
        row[ISSUED] = sqlite_timestamp(row[ISSUED])
    return row


class CheckLogWriter:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], hot: HotConnections) -> None:
        self.sessionmaker = sessionmaker
        self.hot = hot
        self.sqlite_path = hot.target.sqlite_path
        self.pending: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._checkpointing: asyncio.Task[None] | None = None
        self._last_checkpoint = time.monotonic()
        self._outage = OutageLog(log, "check log")
        self._closed = False  # stopping: no more rounds of its own
        # Set at stop: a round waiting out its delay writes at once. The round is never
        # cancelled: cancelled while PostgreSQL commits its batch, it would leave the
        # batch pending, to be written a second time by the stop's own flush.
        self._stopping = asyncio.Event()

    def add(self, entry: dict[str, Any]) -> None:
        if len(self.pending) >= MAX_PENDING:
            log.error("check log backlog full; dropping the oldest entry")
            self.pending.pop(0)
        self.pending.append(entry)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._flush_soon())

    async def _wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _flush_soon(self) -> None:
        await self._wait(FLUSH_DELAY)
        try:
            await self.flush()
        except Exception as exc:
            self._outage.failed(exc, "could not write the check log; will retry")
            await self._wait(1)
        else:
            self._outage.succeeded()
        # Entries left (kept back by a failed write, or added meanwhile) are written by
        # another round, not only when the next check comes.
        if self.pending and not self._closed:
            self._task = asyncio.get_running_loop().create_task(self._flush_soon())

    def _write_sqlite(self, batch: list[dict[str, Any]]) -> bool:
        """Write ``batch`` in one transaction; False if another writer holds the lock."""
        conn = self.hot.sqlite
        assert conn is not None
        rows = [_sqlite_row(entry) for entry in batch]
        if not sqlite_setup.begin_without_waiting(conn):
            return False
        try:
            conn.executemany(SQLITE_INSERT, rows)
            conn.execute("COMMIT")
        except BaseException:
            # Never leave the shared connection inside a transaction: its lookups
            # would go on reading that old snapshot.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return True

    def _checkpoint_sqlite(self) -> None:
        """Copy the WAL into the database file; truncate it once it has grown large.

        Under a steady stream of checks a passive checkpoint rarely finds a moment when
        every frame is copied, so the WAL file is not reused and keeps growing; past
        ``WAL_LIMIT`` a TRUNCATE checkpoint (which briefly holds writers back; the log's
        own writer just tries again) brings it back to zero.
        """
        assert self.sqlite_path
        wal = Path(f"{self.sqlite_path}-wal")
        large = wal.exists() and wal.stat().st_size > WAL_LIMIT
        busy = self.hot.target.sqlite_busy_timeout_ms()
        with contextlib.closing(
            sqlite_setup.connect(self.sqlite_path, busy_timeout_ms=busy)
        ) as conn:
            conn.execute(f"PRAGMA wal_checkpoint({'TRUNCATE' if large else 'PASSIVE'})")

    async def _checkpoint(self) -> None:
        try:
            await asyncio.to_thread(self._checkpoint_sqlite)
        except sqlite3.Error:
            log.warning("check log: WAL checkpoint failed; will try again", exc_info=True)
        finally:
            self._last_checkpoint = time.monotonic()
            self._checkpointing = None

    async def close(self) -> int:
        """At stop: the writer's own round ends (at once if it was waiting), and what is
        still pending is written now."""
        self._closed = True
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(Exception):  # a failed round has logged its failure
                await self._task
        return await self.flush()

    async def flush(self) -> int:
        """Write everything pending now; returns how many entries were written."""
        written = 0
        async with self._lock:
            deadline = time.monotonic() + FLUSH_PATIENCE
            while self.pending:
                batch = self.pending[:MAX_BATCH]
                if self.hot.sqlite is not None:
                    if not self._write_sqlite(batch):
                        if time.monotonic() > deadline:
                            raise TimeoutError("another writer held the database too long")
                        await asyncio.sleep(0.05)
                        continue
                else:
                    async with self.sessionmaker() as db, db.begin():
                        await db.execute(insert(CHECK_LOG), batch)
                del self.pending[: len(batch)]
                written += len(batch)
        if (
            written
            and self.sqlite_path
            and self._checkpointing is None
            and time.monotonic() - self._last_checkpoint > CHECKPOINT_SECONDS
        ):
            self._checkpointing = asyncio.get_running_loop().create_task(self._checkpoint())
        return written
