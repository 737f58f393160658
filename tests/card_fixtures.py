"""Helpers for card tests: mail settings and reading what is stored."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from server.cards.issuing import MailContext
from server.cards.service import issue_link
from server.config import Settings
from server.members.models import Member


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


async def issued_token(db: AsyncSession, settings: Settings, member: Member) -> str:
    """Issue ``member`` a card link from the command line's point of view."""
    issued = await issue_link(db, member, None, mail_for(settings), dt.date.today())
    await db.commit()
    return issued.token


@pytest.fixture(autouse=True)
def reset_card_limiter() -> None:
    """Each test starts with no unknown card links counted against the test client."""
    from server.cards import card_routes

    card_routes.unknown_limiter.reset()
