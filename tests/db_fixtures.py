"""Database conditions for tests: another process busy writing."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator

import asyncpg

from server.db.target import DatabaseTarget


@contextlib.asynccontextmanager
async def long_write(database_url: str) -> AsyncIterator[None]:
    """Another process's write transaction, open (an import, a nightly chunk …): on SQLite
    it holds the database's write lock, on PostgreSQL row locks on every member."""
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
        yield
        await transaction.rollback()
    finally:
        await conn.close()
