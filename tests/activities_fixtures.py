"""Making activity groups, activities, authorizers and authorizations for tests."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.members.models import Member
from server.plugins.activities.models import (
    APPROVED,
    Activity,
    ActivityGroup,
    Authorization,
)
from tests.factories import make_staff

_n = itertools.count(1)


async def make_activity(
    db: AsyncSession, group: str = "Armored Combat", name: str | None = None, **kw: Any
) -> Activity:
    from sqlalchemy import select

    found = await db.scalar(select(ActivityGroup).where(ActivityGroup.name == group))
    if found is None:
        found = ActivityGroup(name=group, description="")
        db.add(found)
        await db.flush()
    kw.setdefault("authorize_permission", "authorize_armored_combat")
    kw.setdefault("term_months", 24)
    activity = Activity(group_id=found.id, name=name or f"Activity {next(_n)}", **kw)
    db.add(activity)
    await db.flush()
    return activity


async def make_authorizer(db: AsyncSession, permission: str = "authorize_armored_combat") -> Member:
    return await make_staff(db, [permission])


async def make_authorization(
    db: AsyncSession,
    member: Member,
    activity: Activity,
    status: str = APPROVED,
    expires_on: dt.date | None = None,
    **kw: Any,
) -> Authorization:
    today = dt.date.today()
    row = Authorization(
        member_id=member.id,
        activity_id=activity.id,
        status=status,
        requested_by_id=member.id,
        start_on=today if status == APPROVED else None,
        expires_on=expires_on,
        revoked_reason="",
        **kw,
    )
    db.add(row)
    await db.flush()
    return row
