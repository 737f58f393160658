"""Writing the check log: every check, failures too, batched off the hot path.

The live page hands its entry to ``CheckLogWriter.add``; a short moment later one
transaction writes every entry gathered meanwhile. On SQLite that is a plain
``executemany`` on the writer's own connection in a worker thread (the event loop keeps
answering checks); elsewhere one SQLAlchemy Core statement. Readers (the report pages)
call ``flush`` first, so what they show is complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import sqlite3
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.checks.decide import Verdict
from server.checks.models import CheckEntry

log = logging.getLogger("tessera.checks")
CHECK_LOG = cast(Table, CheckEntry.__table__)
FLUSH_DELAY = 0.2
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


def _sqlite_value(value: Any) -> Any:
    """Timestamps as SQLAlchemy stores them on SQLite (UTC, microseconds)."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


class CheckLogWriter:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], sqlite_path: str | None = None
    ) -> None:
        self.sessionmaker = sessionmaker
        self.sqlite_path = sqlite_path
        self.pending: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._sqlite: sqlite3.Connection | None = None

    def add(self, entry: dict[str, Any]) -> None:
        if len(self.pending) >= MAX_PENDING:
            log.error("check log backlog full; dropping the oldest entry")
            self.pending.pop(0)
        self.pending.append(entry)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(FLUSH_DELAY)
        try:
            await self.flush()
        except Exception:
            log.exception("could not write the check log; will retry")
            await asyncio.sleep(1)
            if self.pending:
                self._task = asyncio.get_running_loop().create_task(self._flush_soon())

    def _write_sqlite(self, batch: list[dict[str, Any]]) -> None:
        if self._sqlite is None:
            assert self.sqlite_path
            self._sqlite = sqlite3.connect(
                self.sqlite_path, check_same_thread=False, isolation_level=None
            )
            self._sqlite.execute("PRAGMA busy_timeout=10000")
        rows = [tuple(_sqlite_value(entry[c]) for c in COLUMNS) for entry in batch]
        self._sqlite.execute("BEGIN IMMEDIATE")
        try:
            self._sqlite.executemany(SQLITE_INSERT, rows)
        except BaseException:
            self._sqlite.execute("ROLLBACK")
            raise
        self._sqlite.execute("COMMIT")

    async def flush(self) -> int:
        """Write everything pending now; returns how many entries were written."""
        written = 0
        async with self._lock:
            while self.pending:
                batch = self.pending[:MAX_BATCH]
                if self.sqlite_path:
                    await asyncio.to_thread(self._write_sqlite, batch)
                else:
                    async with self.sessionmaker() as db, db.begin():
                        await db.execute(insert(CHECK_LOG), batch)
                del self.pending[: len(batch)]
                written += len(batch)
        return written
