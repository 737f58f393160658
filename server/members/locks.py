"""Locking members' rows: changes about the same members, made at the same moment (a
double click, two officers, a bulk run), happen one after the other.

Call ``lock_members`` first in the transaction, then check and change: whoever comes
second waits here and then sees what the first one committed.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.transactions import lock_for_write
from server.members.models import Member


async def lock_members(db: AsyncSession, member_ids: list[int]) -> None:
    """Lock the rows of ``member_ids`` (in id order, so two lockers never deadlock) and
    reload those already in the session."""
    await lock_for_write(db)
    await db.execute(
        select(Member)
        .where(Member.id.in_(member_ids))
        .order_by(Member.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
