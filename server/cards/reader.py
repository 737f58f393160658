"""The card hot path: one indexed lookup of a link and its precomputed payload.

No ORM and no pool checkout per request: on SQLite a plain ``sqlite3`` connection on
the event-loop thread (a WAL reader never waits for writers), on PostgreSQL a small
``asyncpg`` pool with a prepared statement. Writes (recomputing a stale payload,
``last_used_at``) go through the SQLAlchemy engine as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from sqlalchemy import Table, bindparam, update
from sqlalchemy.ext.asyncio import AsyncEngine

from server.cards.models import CardLink
from server.database import utcnow

LOOKUP_SQL = (
    "SELECT l.id, l.member_id, l.revoked_at IS NOT NULL, p.body, p.etag, p.valid_until "
    "FROM card_links l LEFT JOIN card_payloads p ON p.member_id = l.member_id "
    "WHERE l.token_hash = {}"
)


@dataclass(frozen=True, slots=True)
class LinkRow:
    link_id: int
    member_id: int
    revoked: bool
    body: str | None
    etag: str | None
    valid_until: int

    def fresh(self, now: float) -> bool:
        return self.body is not None and self.valid_until > now


class CardReader(Protocol):
    async def fetch(self, token_hash: str) -> LinkRow | None: ...
    async def close(self) -> None: ...


class SqliteReader:
    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._sql = LOOKUP_SQL.format("?")

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA query_only=ON")
            conn.execute("PRAGMA busy_timeout=2000")
            self._conn = conn
        return self._conn

    async def fetch(self, token_hash: str) -> LinkRow | None:
        row = self._connection().execute(self._sql, (token_hash,)).fetchone()
        return (
            None
            if row is None
            else LinkRow(row[0], row[1], bool(row[2]), row[3], row[4], row[5] or 0)
        )

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class PostgresReader:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._pool: Any = None
        self._lock = asyncio.Lock()
        self._sql = LOOKUP_SQL.format("$1")

    async def _get_pool(self) -> Any:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    import asyncpg

                    self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=10)
        return self._pool

    async def fetch(self, token_hash: str) -> LinkRow | None:
        pool = await self._get_pool()
        row = await pool.fetchrow(self._sql, token_hash)
        return None if row is None else LinkRow(row[0], row[1], row[2], row[3], row[4], row[5] or 0)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def make_reader(database_url: str) -> CardReader:
    if database_url.startswith("sqlite"):
        return SqliteReader(unquote(database_url.split(":///", 1)[1]))
    parts = urlsplit(database_url)
    return PostgresReader(parts._replace(scheme="postgresql").geturl())


class UsageTracker:
    """``last_used_at`` without a write per request: remembered in memory, written in
    one set-based UPDATE at most every ``interval`` seconds, each link at most once an hour."""

    def __init__(self, interval: float = 10.0, per_link: float = 3600.0, batch: int = 2000) -> None:
        self.batch = batch
        self.interval = interval
        self.per_link = per_link
        self._seen: dict[int, float] = {}
        self._pending: dict[int, Any] = {}
        self._last_flush = time.monotonic()
        self._flushing: asyncio.Task[None] | None = None

    def touch(self, link_id: int, engine: AsyncEngine) -> None:
        now = time.monotonic()
        if now - self._seen.get(link_id, -1e12) >= self.per_link:
            if len(self._seen) > 500_000:
                self._seen.clear()
            self._seen[link_id] = now
            self._pending[link_id] = utcnow()
        if self._pending and now - self._last_flush >= self.interval and self._flushing is None:
            self._flushing = asyncio.create_task(self._flush_task(engine))

    async def _flush_task(self, engine: AsyncEngine) -> None:
        try:
            await self.flush(engine)
        finally:
            self._flushing = None

    async def flush(self, engine: AsyncEngine) -> int:
        self._last_flush = time.monotonic()
        if not self._pending:
            return 0
        # At most ``batch`` rows per round keeps each write short; the rest wait.
        keys = list(self._pending)[: self.batch]
        pending = {k: self._pending.pop(k) for k in keys}
        table = CardLink.__table__
        assert isinstance(table, Table)
        stmt = (
            update(table)
            .where(table.c.id == bindparam("link_id"))
            .values(last_used_at=bindparam("used_at"))
        )
        with contextlib.suppress(Exception):  # best effort: usage info, never a failure
            async with engine.begin() as conn:
                await conn.execute(stmt, [{"link_id": k, "used_at": v} for k, v in pending.items()])
        return len(pending)
