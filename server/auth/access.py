"""Who holds which permission today: the one check every route and service uses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Date, Select, and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth import permissions
from server.groups.models import Group, GroupMembership
from server.members.models import Member
from server.members.status import LOGIN_STATUSES, VERIFIED_STATUSES


class Holder(Protocol):
    """What decides a member's permissions besides their group memberships (a ``Member``
    or the hot path's row of the same fields)."""

    @property
    def is_superuser(self) -> bool: ...
    @property
    def is_deleted(self) -> bool: ...
    @property
    def status(self) -> str: ...
    @property
    def membership_expires_on(self) -> dt.date | None: ...


# (chair?, the group's permissions, the group's chair permissions) of a current membership
Held = tuple[bool, Iterable[str], Iterable[str]]


def membership_current(member: Holder, today: dt.date) -> bool:
    """Verified and not expired: what ``needs_membership`` permissions require."""
    return (
        member.status in VERIFIED_STATUSES
        and member.membership_expires_on is not None
        and member.membership_expires_on >= today
    )


def permissions_from(member: Holder, memberships: Iterable[Held], today: dt.date) -> frozenset[str]:
    """The rule itself: the permissions ``member`` holds today through ``memberships``
    (those current today); nothing if they cannot log in; every one for a superuser."""
    if member.is_deleted or member.status not in LOGIN_STATUSES:
        return frozenset()
    if member.is_superuser:
        return frozenset(p.key for p in permissions.catalogue())
    held: set[str] = set()
    for is_chair, granted, chair_granted in memberships:
        held.update(granted)
        if is_chair:
            held.update(chair_granted)
    verified = membership_current(member, today)
    return frozenset(
        key
        for key in held
        if (perm := permissions.get(key)) is not None and (verified or not perm.needs_membership)
    )


def current_membership(today: Any) -> ColumnElement[bool]:
    """A group membership current on ``today`` (a date or a bind parameter), in a group
    current then (join ``Group`` on the membership's group)."""
    return and_(
        GroupMembership.since <= today,
        or_(GroupMembership.until.is_(None), GroupMembership.until >= today),
        Group.since <= today,
        or_(Group.until.is_(None), Group.until >= today),
    )


def current_memberships_query(today: dt.date) -> Select[GroupMembership, Group]:
    """Group memberships current today, in groups current today."""
    return (
        select(GroupMembership, Group)
        .join(Group, Group.id == GroupMembership.group_id)
        .where(current_membership(today))
    )


async def permissions_of(
    session: AsyncSession, member: Member | None, today: dt.date
) -> frozenset[str]:
    """The permissions ``member`` holds today (``permissions_from``)."""
    if member is None:
        return frozenset()
    return (await permissions_of_many(session, [member], today))[member.id]


async def permissions_of_many(
    session: AsyncSession, members: list[Member], today: dt.date
) -> dict[int, frozenset[str]]:
    """``permissions_of`` for many members in one query (batch printing)."""
    asking = [m.id for m in members if may_hold_through_groups(m)]
    rows: Iterable[Any] = (
        await session.execute(HELD, {"today": today, "ids": asking}) if asking else ()
    )
    return permissions_by_member(members, rows, today)


def may_hold_through_groups(member: Holder) -> bool:
    """Whether ``member``'s group memberships matter (``permissions_from``): they can
    log in and are no superuser (who holds every permission anyway)."""
    return not member.is_deleted and member.status in LOGIN_STATUSES and not member.is_superuser


def permissions_by_member(
    members: Sequence[Member], rows: Iterable[tuple[int, bool, Any, Any]], today: dt.date
) -> dict[int, frozenset[str]]:
    """``permissions_from`` for each of ``members``, from ``HELD``'s rows."""
    held: dict[int, list[Held]] = {m.id: [] for m in members}
    for member_id, is_chair, granted, chair_granted in rows:
        held[member_id].append((is_chair, granted, chair_granted))
    return {m.id: permissions_from(m, held[m.id], today) for m in members}


# The current group memberships of members (``ids``) on ``today``: built once (every card
# rebuild batch reads it). Columns: member id, chair?, the group's permissions and its
# chair permissions.
HELD_COLUMNS = (
    GroupMembership.member_id,
    GroupMembership.is_chair,
    Group.permissions,
    Group.chair_permissions,
)
HELD = (
    select(*HELD_COLUMNS)
    .join(Group, Group.id == GroupMembership.group_id)
    .where(
        current_membership(bindparam("today", type_=Date())),
        GroupMembership.member_id.in_(bindparam("ids", expanding=True)),
    )
)


async def has_permission(
    session: AsyncSession, member: Member | None, key: str, today: dt.date
) -> bool:
    return key in await permissions_of(session, member, today)


async def is_staff(session: AsyncSession, member: Member, today: dt.date) -> bool:
    """Staff = a current group membership (in a current group), or superuser."""
    if member.is_superuser:
        return True
    row = (
        await session.execute(
            current_memberships_query(today).where(GroupMembership.member_id == member.id).limit(1)
        )
    ).first()
    return row is not None
