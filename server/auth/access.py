"""Who holds which permission today: the one check every route and service uses."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth import permissions
from server.groups.models import Group, GroupMembership
from server.members.models import Member
from server.members.status import LOGIN_STATUSES, VERIFIED_STATUSES


def membership_current(member: Member, today: dt.date) -> bool:
    """Verified and not expired: what ``needs_membership`` permissions require."""
    return (
        member.status in VERIFIED_STATUSES
        and member.membership_expires_on is not None
        and member.membership_expires_on >= today
    )


def current_memberships_query(today: dt.date) -> Select[GroupMembership, Group]:
    """Group memberships current today, in groups current today."""
    return (
        select(GroupMembership, Group)
        .join(Group, Group.id == GroupMembership.group_id)
        .where(
            GroupMembership.since <= today,
            or_(GroupMembership.until.is_(None), GroupMembership.until >= today),
            Group.since <= today,
            or_(Group.until.is_(None), Group.until >= today),
        )
    )


async def permissions_of(
    session: AsyncSession, member: Member | None, today: dt.date | None = None
) -> frozenset[str]:
    """The permissions ``member`` holds today (superusers hold every one)."""
    if member is None or member.is_deleted or member.status not in LOGIN_STATUSES:
        return frozenset()
    if member.is_superuser:
        return frozenset(p.key for p in permissions.catalogue())
    today = today or dt.date.today()
    rows = (
        await session.execute(
            current_memberships_query(today).where(GroupMembership.member_id == member.id)
        )
    ).all()
    held: set[str] = set()
    for membership, group in rows:
        held.update(group.permissions)
        if membership.is_chair:
            held.update(group.chair_permissions)
    verified = membership_current(member, today)
    result = set()
    for key in held:
        perm = permissions.get(key)
        if perm is None or (perm.needs_membership and not verified):
            continue
        result.add(key)
    return frozenset(result)


async def permissions_of_many(
    session: AsyncSession, members: list[Member], today: dt.date
) -> dict[int, frozenset[str]]:
    """``permissions_of`` for many members in one query (batch printing, bulk sections)."""
    result: dict[int, frozenset[str]] = {}
    held: dict[int, set[str]] = {}
    eligible = {}
    for member in members:
        result[member.id] = frozenset()
        if member.is_deleted or member.status not in LOGIN_STATUSES:
            continue
        if member.is_superuser:
            result[member.id] = frozenset(p.key for p in permissions.catalogue())
            continue
        eligible[member.id] = member
        held[member.id] = set()
    if eligible:
        rows = (
            await session.execute(
                current_memberships_query(today).where(GroupMembership.member_id.in_(eligible))
            )
        ).all()
        for membership, group in rows:
            held[membership.member_id].update(group.permissions)
            if membership.is_chair:
                held[membership.member_id].update(group.chair_permissions)
    for member_id, keys in held.items():
        verified = membership_current(eligible[member_id], today)
        result[member_id] = frozenset(
            k
            for k in keys
            if (perm := permissions.get(k)) is not None and (verified or not perm.needs_membership)
        )
    return result


async def has_permission(
    session: AsyncSession, member: Member | None, key: str, today: dt.date | None = None
) -> bool:
    return key in await permissions_of(session, member, today)


async def is_staff(session: AsyncSession, member: Member, today: dt.date | None = None) -> bool:
    """Staff = a current group membership (in a current group), or superuser."""
    if member.is_superuser:
        return True
    today = today or dt.date.today()
    row = (
        await session.execute(
            current_memberships_query(today).where(GroupMembership.member_id == member.id).limit(1)
        )
    ).first()
    return row is not None
