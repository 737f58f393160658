"""Database conditions for tests: another process busy writing."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.target import DatabaseTarget


@contextlib.asynccontextmanager
async def long_write(database_url: str, *, also: tuple[str, ...] = ()) -> AsyncIterator[None]:
    """Another process's write transaction, open (an import, a nightly chunk …): on SQLite
    it holds the database's write lock, on PostgreSQL row locks on every member (and on
    every row of the tables ``also`` names)."""
    target = DatabaseTarget.parse(database_url)
    if target.is_sqlite:
        assert target.sqlite_path
        holder = sqlite3.connect(target.sqlite_path, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            holder.execute("UPDATE members SET private_notes = private_notes")
            yield
        finally:
            with contextlib.suppress(sqlite3.Error):
                holder.execute("ROLLBACK")
            holder.close()
        return
    conn = await asyncpg.connect(**target.asyncpg_arguments())
    try:
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute("UPDATE members SET private_notes = private_notes")
        for table in also:
            await conn.execute(f"SELECT 1 FROM {table} FOR UPDATE")
        yield
        await transaction.rollback()
    finally:
        await conn.close()


async def until_someone_waits_for_a_lock(db: AsyncSession, unless: asyncio.Task[Any]) -> None:
    """PostgreSQL: poll until another backend of this database is blocked on a lock, or
    ``unless`` (the task expected to wait) has finished without waiting (bounded)."""
    for _ in range(500):
        waiting = await db.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
        )
        await db.commit()
        if waiting or unless.done():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("nobody waited for the open transaction's locks")
