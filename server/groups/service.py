"""Changing groups and group memberships: every writing path goes through here.

The rules of brief §5 — until ≥ since; inside the group's period; no overlapping
memberships of one member in one group; one chair at a time — are checked with the
group's row locked (``lock_group``: ``SELECT … FOR UPDATE`` on PostgreSQL, the database's
write lock on SQLite), so two requests at once cannot both pass.
A membership ends by getting an ``until`` date; nothing is deleted. An upcoming one
withdrawn before it begins is *cancelled*: its ``until`` becomes the day before its
``since`` (an empty period: never current, ignored by the overlap and period rules).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.log import changes, record, snapshot
from server.auth import permissions as catalogue
from server.db.lowered import lowered
from server.db.transactions import lock_for_write, lock_table
from server.groups.models import Group, GroupMembership
from server.groups.staff_sync import sync_staff
from server.members.models import Member
from server.web.seen import STALE, stale

FAR_FUTURE = dt.date.max
MEMBERSHIP_EDITED = ["role", "since", "until", "is_chair"]  # what its edit page shows


class GroupRuleError(Exception):
    """A refused change; ``str(exc)`` is the message, ``field`` the form field."""

    def __init__(self, message: str, field: str = "form") -> None:
        super().__init__(message)
        self.field = field


class GroupChanged(GroupRuleError):
    """The group was saved by someone else after the edit page was drawn."""


@dataclass(frozen=True)
class GroupValues:
    name: str
    description: str
    since: dt.date
    until: dt.date | None
    permissions: list[str]
    chair_permissions: list[str]


@dataclass(frozen=True)
class MembershipValues:
    since: dt.date
    until: dt.date | None
    role: str
    is_chair: bool


def _overlaps(
    a_since: dt.date, a_until: dt.date | None, b_since: dt.date, b_until: dt.date | None
) -> bool:
    return a_since <= (b_until or FAR_FUTURE) and b_since <= (a_until or FAR_FUTURE)


async def lock_group(db: AsyncSession, group_id: int) -> Group:
    await lock_for_write(db)
    group = (
        await db.execute(
            select(Group)
            .where(Group.id == group_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if group is None:
        raise GroupRuleError("There is no such group.")
    return group


def _label(key: str) -> str:
    found = catalogue.get(key)
    return f"“{found.label}”" if found is not None else key


def check_grantable(actor: Member, actor_perms: frozenset[str], wanted: set[str]) -> None:
    """Nobody hands out, or takes away, a permission they do not hold (superusers hold
    them all)."""
    missing = sorted(wanted - actor_perms)
    if missing and not actor.is_superuser:
        names = "; ".join(_label(key) for key in missing)
        raise GroupRuleError(
            "You can only grant permissions you hold yourself, and only those can you take "
            f"away; you do not hold: {names}.",
            "permissions",
        )


async def _name_taken(db: AsyncSession, name: str, exclude_id: int | None) -> bool:
    """Another group has this name, ignoring case (like branches and member codes)."""
    query = select(Group.id).where(lowered(Group.name) == name.lower())
    if exclude_id is not None:
        query = query.where(Group.id != exclude_id)
    return (await db.execute(query.limit(1))).first() is not None


def _check_group_values(values: GroupValues) -> None:
    if values.until is not None and values.until < values.since:
        raise GroupRuleError("The end date must not be before the start date.", "until")
    unknown = set(values.permissions + values.chair_permissions) - {
        p.key for p in catalogue.catalogue()
    }
    if unknown:
        raise GroupRuleError(f"Unknown permission: {', '.join(sorted(unknown))}.", "permissions")


async def create_group(db: AsyncSession, values: GroupValues, *, actor_id: int | None) -> Group:
    _check_group_values(values)
    await lock_table(db, Group.__tablename__)  # two groups of one name at once: one
    if await _name_taken(db, values.name, None):
        raise GroupRuleError("Another group already has this name.", "name")
    group = Group(**values.__dict__)
    db.add(group)
    await db.flush()
    record(db, actor_id=actor_id, action="group.create", entity=group, after=snapshot(group))
    return group


async def update_group(
    db: AsyncSession,
    group_id: int,
    values: GroupValues,
    *,
    actor_id: int | None,
    today: dt.date,
    seen: str | None = None,
) -> Group:
    """Change a group; its memberships must stay inside its new period. ``seen``: the
    digest of the group the edit page showed (``server.web.seen``); refused if it changed."""
    group = await lock_group(db, group_id)
    if stale(seen, snapshot(group)):
        raise GroupChanged(STALE)
    _check_group_values(values)
    if values.name != group.name:  # a group saved under its own name is not refused
        await lock_table(db, Group.__tablename__)
        if await _name_taken(db, values.name, group.id):
            raise GroupRuleError("Another group already has this name.", "name")
    outside = (
        await db.execute(
            select(Member.sca_name, GroupMembership.since)
            .join(Member, Member.id == GroupMembership.member_id)
            .where(
                GroupMembership.group_id == group.id,
                or_(
                    GroupMembership.until.is_(None), GroupMembership.until >= GroupMembership.since
                ),
                or_(
                    GroupMembership.since < values.since,
                    *(
                        []
                        if values.until is None
                        else [
                            GroupMembership.until.is_(None),
                            GroupMembership.until > values.until,
                        ]
                    ),
                ),
            )
            .limit(3)
        )
    ).all()
    if outside:
        names = ", ".join(f"{name or 'a member'} (since {since})" for name, since in outside)
        raise GroupRuleError(
            f"These memberships would fall outside the group's new period: {names}. "
            "End or change them first.",
            "since",
        )
    before = snapshot(group)
    for key, value in values.__dict__.items():
        setattr(group, key, value)
    old, new = changes(before, snapshot(group))
    if new:
        await db.flush()
        record(db, actor_id=actor_id, action="group.update", entity=group, before=old, after=new)
        member_ids = (
            await db.execute(
                select(GroupMembership.member_id).where(GroupMembership.group_id == group.id)
            )
        ).scalars()
        await sync_staff(db, today, set(member_ids))
    return group


def granted_by_edit(
    group: Group, membership: GroupMembership, values: MembershipValues
) -> set[str]:
    """The permissions an edit of ``membership`` hands out (``check_grantable`` them).

    A membership whose period grows — an ended one given a later end or none, an upcoming
    one an earlier start — grants the group's permissions (and a chair's, the chair's) for
    the days it gains, like a new membership would; making a member chair grants the
    chair's. Shortening the period or changing the role grants nothing.
    """
    values = with_group_end(group, values)
    grows = values.since < membership.since or (values.until or FAR_FUTURE) > (
        membership.until or FAR_FUTURE
    )
    wanted: set[str] = set()
    if grows:
        wanted.update(group.permissions)
        if values.is_chair:
            wanted.update(group.chair_permissions)
    if values.is_chair and not membership.is_chair:
        wanted.update(group.chair_permissions)
    return wanted


def with_group_end(group: Group, values: MembershipValues) -> MembershipValues:
    """A membership without an end runs until its group ends (open-ended in an open-ended
    group)."""
    if values.until is None and group.until is not None:
        return replace(values, until=group.until)
    return values


async def _check_membership(
    db: AsyncSession,
    group: Group,
    member_id: int,
    values: MembershipValues,
    exclude_id: int | None,
) -> None:
    """The rules, with the group locked: period, inside the group, overlap, one chair."""
    if group.until is not None and values.since > group.until:
        # Said first: an empty end date became the group's end, before this start.
        raise GroupRuleError(
            f"The group ends on {group.until}; a membership cannot start after that.", "since"
        )
    if values.until is not None and values.until < values.since:
        raise GroupRuleError("The end date must not be before the start date.", "until")
    if values.since < group.since:
        raise GroupRuleError(
            f"The membership cannot start before the group does ({group.since}).", "since"
        )
    if group.until is not None and (values.until is None or values.until > group.until):
        raise GroupRuleError(
            f"The group ends on {group.until}; the membership must end by then.", "until"
        )
    others = (
        await db.execute(
            select(GroupMembership).where(
                GroupMembership.group_id == group.id,
                GroupMembership.id != (exclude_id or 0),
                or_(GroupMembership.member_id == member_id, GroupMembership.is_chair.is_(True)),
            )
        )
    ).scalars()
    for other in others:
        if other.is_cancelled or not _overlaps(
            values.since, values.until, other.since, other.until
        ):
            continue
        if other.member_id == member_id:
            raise GroupRuleError(
                f"This member already belongs to the group from {other.since} "
                f"{'until ' + str(other.until) if other.until else '(open-ended)'}; "
                "memberships of one member in one group may not overlap.",
                "since",
            )
        if values.is_chair and other.is_chair:
            raise GroupRuleError(
                f"The group already has a chair from {other.since} "
                f"{'until ' + str(other.until) if other.until else '(open-ended)'}; "
                "one chair at a time.",
                "is_chair",
            )


async def add_membership(
    db: AsyncSession,
    group_id: int,
    member: Member,
    values: MembershipValues,
    *,
    actor_id: int | None,
    today: dt.date,
) -> GroupMembership:
    group = await lock_group(db, group_id)
    if member.is_deleted:
        raise GroupRuleError("This member was deleted.", "member")
    values = with_group_end(group, values)
    await _check_membership(db, group, member.id, values, None)
    membership = GroupMembership(
        group_id=group.id, member_id=member.id, granted_by_id=actor_id, **values.__dict__
    )
    db.add(membership)
    await db.flush()
    record(
        db,
        actor_id=actor_id,
        action="group_membership.add",
        entity=membership,
        member_id=member.id,
        after=snapshot(membership),
        note=group.name,
    )
    await sync_staff(db, today, [member.id])
    return membership


async def update_membership(
    db: AsyncSession,
    membership: GroupMembership,
    values: MembershipValues,
    *,
    actor_id: int | None,
    today: dt.date,
    action: str = "group_membership.update",
    seen: str | None = None,
) -> bool:
    """Change a membership under the rules. ``seen``: the digest of the membership the
    edit page showed (``server.web.seen``); refused if someone saved it since."""
    group = await lock_group(db, membership.group_id)
    await db.refresh(membership)  # as it is now, under the lock
    if stale(seen, snapshot(membership, MEMBERSHIP_EDITED)):
        raise GroupChanged(STALE)
    values = with_group_end(group, values)
    await _check_membership(db, group, membership.member_id, values, membership.id)
    before = snapshot(membership)
    for key, value in values.__dict__.items():
        setattr(membership, key, value)
    if action == "group_membership.end":
        membership.ended_by_id = actor_id
    return await _save_change(
        db, group, membership, before, action=action, actor_id=actor_id, today=today
    )


async def _save_change(
    db: AsyncSession,
    group: Group,
    membership: GroupMembership,
    before: dict[str, Any],
    *,
    action: str,
    actor_id: int | None,
    today: dt.date,
) -> bool:
    """Write, audit and apply to staff access what changed in ``membership`` since
    ``before`` (its snapshot); False when nothing did."""
    old, new = changes(before, snapshot(membership))
    if not new:
        return False
    await db.flush()
    record(
        db,
        actor_id=actor_id,
        action=action,
        entity=membership,
        member_id=membership.member_id,
        before=old,
        after=new,
        note=group.name,
    )
    await sync_staff(db, today, [membership.member_id])
    return True


async def end_membership(
    db: AsyncSession,
    membership: GroupMembership,
    until: dt.date,
    *,
    actor_id: int | None,
    today: dt.date,
) -> bool:
    """End by date (never delete); an end date can only move earlier this way. An
    upcoming membership ended before its start is cancelled (``cancel_membership``)."""
    if membership.is_cancelled:
        raise GroupRuleError("This membership was cancelled before it began.", "until")
    if until < membership.since and membership.since > today:
        return await cancel_membership(db, membership, actor_id=actor_id, today=today)
    if membership.until is not None and until > membership.until:
        raise GroupRuleError(
            f"This membership already ends on {membership.until}; use Edit to extend it.",
            "until",
        )
    values = MembershipValues(membership.since, until, membership.role, membership.is_chair)
    return await update_membership(
        db, membership, values, actor_id=actor_id, today=today, action="group_membership.end"
    )


async def cancel_membership(
    db: AsyncSession, membership: GroupMembership, *, actor_id: int | None, today: dt.date
) -> bool:
    """Withdraw an upcoming membership before it begins: kept, with an empty period (its
    ``until`` the day before its ``since``), so it never grants anything; audited."""
    group = await lock_group(db, membership.group_id)
    await db.refresh(membership)  # as it is now, under the lock
    if membership.is_cancelled:
        return False
    if membership.since <= today:
        raise GroupRuleError(
            f"This membership began on {membership.since}; end it instead of cancelling it.",
            "until",
        )
    before = snapshot(membership)
    membership.until = membership.since - dt.timedelta(days=1)
    membership.ended_by_id = actor_id
    return await _save_change(
        db,
        group,
        membership,
        before,
        action="group_membership.cancel",
        actor_id=actor_id,
        today=today,
    )
