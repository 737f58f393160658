"""The card hot path: one indexed lookup of a link and its prebuilt payload.

Runs on the hot connections (``server.db.hot``): no ORM, no pool checkout per request
on SQLite. A payload is served as stored while it is fresh: built, not past its
``valid_until``, and not older than the newest card epoch (``server.cards.invalidation``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, update
from sqlalchemy.ext.asyncio import AsyncEngine

from server.cards.models import CardLink
from server.database import utcnow
from server.db.hot import HotConnections

LOOKUP_SQL = (
    "SELECT l.id, l.member_id, l.revoked_at IS NOT NULL, p.body, p.etag, p.valid_until, "
    "p.epoch >= (SELECT COALESCE(MAX(e.id), 0) FROM card_epochs e) "
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
    current_epoch: bool

    def fresh(self, now: float) -> bool:
        return self.body is not None and self.current_epoch and self.valid_until > now


class CardReader:
    def __init__(self, hot: HotConnections) -> None:
        self.hot = hot
        self.sql = hot.sql(LOOKUP_SQL)

    async def fetch(self, token_hash: str) -> LinkRow | None:
        if self.hot.sqlite is not None:
            row: Any = self.hot.sqlite.execute(self.sql, (token_hash,)).fetchone()
        else:
            row = await self.hot.pool.fetchrow(self.sql, token_hash)
        if row is None:
            return None
        return LinkRow(row[0], row[1], bool(row[2]), row[3], row[4], row[5] or 0, bool(row[6]))


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
