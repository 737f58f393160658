"""Re-reading rows in tests without holding a transaction open (SQLite would block the app)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


async def reload(db: AsyncSession, *objects: Any) -> None:
    """Refresh ``objects`` from the database, then end the read transaction."""
    for obj in objects:
        await db.refresh(obj)
    await db.commit()
