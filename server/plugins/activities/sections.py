"""The card sections: Authorizations (current, grouped) and May authorize."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.access import permissions_of
from server.members.models import Member
from server.plugins.activities.models import APPROVED, Activity, ActivityGroup, Authorization
from server.plugins.contract import Row, Section, SectionContext

AUTHORIZATIONS_ORDER = 20
MAY_AUTHORIZE_ORDER = 30


async def current_authorizations(
    db: AsyncSession, member_id: int, today: dt.date
) -> list[tuple[str, str, dt.date | None]]:
    """(group name, activity name, expiry) of current approved ones, sorted."""
    rows = await db.execute(
        select(ActivityGroup.name, Activity.name, Authorization.expires_on)
        .join(Activity, Activity.id == Authorization.activity_id)
        .join(ActivityGroup, ActivityGroup.id == Activity.group_id)
        .where(
            Authorization.member_id == member_id,
            Authorization.status == APPROVED,
            or_(Authorization.expires_on.is_(None), Authorization.expires_on >= today),
        )
        .order_by(ActivityGroup.name, Activity.name)
    )
    return [(g, a, e) for g, a, e in rows]


def expiry_note(expires_on: dt.date | None) -> str:
    return f"expires {expires_on.isoformat()}" if expires_on else "no expiry"


async def activity_sections(
    db: AsyncSession, member: Member, context: SectionContext, today: dt.date
) -> Sequence[Section]:
    held = await current_authorizations(db, member.id, today)
    authorizations = Section(
        key="authorizations",
        title="Authorizations",
        order=AUTHORIZATIONS_ORDER,
        rows=tuple(
            Row(
                label=activity,
                value="Authorized",
                note=expiry_note(expires),
                group=group,
                tone="ok",
            )
            for group, activity, expires in held
        ),
        empty_text="No current authorizations.",
    )
    perms = await permissions_of(db, member, today)
    may: list[Row] = []
    if perms:
        rows = await db.execute(
            select(ActivityGroup.name, Activity.name)
            .join(ActivityGroup, ActivityGroup.id == Activity.group_id)
            .where(Activity.is_active.is_(True), Activity.authorize_permission.in_(perms))
            .order_by(ActivityGroup.name, Activity.name)
        )
        may = [Row(label=activity, group=group) for group, activity in rows]
    may_authorize = Section(
        key="may_authorize", title="May authorize", order=MAY_AUTHORIZE_ORDER, rows=tuple(may)
    )
    return [authorizations, may_authorize]
