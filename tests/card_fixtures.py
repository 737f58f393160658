"""Helpers for card tests: mail settings and reading what is stored."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from server.cards.issuing import MailContext
from server.config import Settings


def mail_for(settings: Settings) -> MailContext:
    return MailContext(settings.base_url, str(settings.secret_key))


async def database_contains(db: AsyncSession, settings: Settings, needle: str) -> bool:
    """Whether ``needle`` is anywhere in the database: the SQLite file bytes (and its WAL),
    or on PostgreSQL every text column of every table."""
    if settings.is_sqlite:
        await db.commit()
        path = Path(settings.database_url.split("///", 1)[1])
        files = [path, path.with_name(path.name + "-wal")]
        return any(needle.encode() in f.read_bytes() for f in files if f.exists())
    tables = (
        await db.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
    ).scalars()
    for table in list(tables):
        found = (
            await db.execute(
                text(f'SELECT 1 FROM "{table}" t WHERE t::text LIKE :n LIMIT 1'),
                {"n": f"%{needle}%"},
            )
        ).first()
        if found:
            return True
    return False
