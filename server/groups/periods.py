"""Sorting group memberships into current, upcoming and previous."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.groups.models import Group, GroupMembership


def phase(membership: GroupMembership, group: Group, today: dt.date) -> str:
    """``current``, ``upcoming`` or ``previous`` (a membership of an ended group is previous)."""
    if (
        membership.is_cancelled
        or (membership.until is not None and membership.until < today)
        or (group.until is not None and group.until < today)
    ):
        return "previous"
    if membership.since > today or group.since > today:
        return "upcoming"
    return "current"


@dataclass
class MembershipsByPhase:
    current: list[tuple[GroupMembership, Group]] = field(default_factory=list)
    upcoming: list[tuple[GroupMembership, Group]] = field(default_factory=list)
    previous: list[tuple[GroupMembership, Group]] = field(default_factory=list)


async def memberships_of(db: AsyncSession, member_id: int, today: dt.date) -> MembershipsByPhase:
    rows = await db.execute(
        select(GroupMembership, Group)
        .join(Group, Group.id == GroupMembership.group_id)
        .where(GroupMembership.member_id == member_id)
        .order_by(GroupMembership.since.desc(), Group.name)
    )
    result = MembershipsByPhase()
    for membership, group in rows:
        getattr(result, phase(membership, group, today)).append((membership, group))
    return result
