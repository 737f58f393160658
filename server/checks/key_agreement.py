"""Whether this machine holds the key that signed the codes the database already serves.

Check keys live in the data dir (``check_keys.json``), the codes cards carry in the
database. A data dir that does not belong to the database — a second server on one
PostgreSQL that made a key 1 of its own, or a database restored without its key file —
signs codes the others cannot verify and cannot verify theirs: cards check as forged.
``serve`` reads the newest code stored with a card at start and says so when this
machine cannot verify it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from server.cards.models import CardPayload
from server.checks import codes, keyring
from server.db.engine import make_engine


async def _newest_code(database_url: str) -> str | None:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            return await conn.scalar(
                select(CardPayload.check_code)
                .where(CardPayload.check_code.is_not(None))
                .order_by(CardPayload.valid_until.desc())
                .limit(1)
            )
    finally:
        await engine.dispose()


def unverified(code: str, ring: keyring.Keyring | None) -> str | None:
    """Why ``ring`` cannot verify ``code`` (a card's stored check code), or None when it
    can — a key of its own since retired counts as verifying: a rotation, not another key."""
    if ring is None:
        return f"there is no {keyring.FILE_NAME}"
    try:
        codes.read(code, ring)
    except codes.CodeRejected as rejected:
        if rejected.result == "unknown":
            return rejected.reason.rstrip(".")
    return None


def newest_code(database_url: str) -> str | None:
    """The newest check code stored with a card (None when no card has one yet)."""
    return asyncio.run(_newest_code(database_url))


def foreign_key_warning(database_url: str, data_dir: Path) -> str | None:
    """Two lines when the database's cards carry codes this data dir's keys did not sign."""
    code = newest_code(database_url)
    if code is None:
        return None
    reason = unverified(code, keyring.load_or_create(data_dir))
    if reason is None:
        return None
    return (
        f"Warning: the cards in this database carry check codes that the keys in "
        f"{data_dir / keyring.FILE_NAME} cannot verify ({reason}).\n"
        "Copy check_keys.json from the server that made them (every server of one "
        "database needs the same file), or restore it with the database (README, Backups)."
    )
