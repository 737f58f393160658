"""Officers act only on members below them (brief §5), the one rule every action uses.

An actor may act on another member's account — its login email and password, whether
it can log in (deactivate, reactivate, delete), its membership facts, its photo, its card
link and check codes, its group memberships — only when the target holds no permission
the actor lacks, and is no superuser unless the actor is one. Acting on your own account
is outside this rule (other rules apply: nobody deactivates or deletes themselves).

The target's permissions are counted generously (``standing``): every permission of a
current or upcoming group membership, chair permissions included, whether or not the
target may log in today or their membership is verified. So nothing the actor may do to
a member — clear their membership, deactivate them — lowers the member's standing far
enough to then take their account.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request

from server import clock
from server.auth import permissions
from server.groups.models import Group, GroupMembership
from server.members.models import Member

OWN_MEMBERSHIP = (
    "Nobody verifies or extends their own membership: another officer (or a superuser) "
    "records your membership number and dates."
)
# The membership facts the permissions that need a current membership rest on.
MEMBERSHIP_FACTS = ("membership_number", "membership_expires_on", "background_check_expires_on")


def own_membership_refused(actor: Member, target: Member) -> bool:
    """Whether ``actor`` is recording their own membership facts (refused unless a
    superuser): an officer with a lapsed membership would otherwise extend it and win
    back every permission that needs a current one."""
    return actor.id == target.id and not actor.is_superuser


async def standing(db: AsyncSession, member: Member, today: dt.date) -> frozenset[str]:
    """Every permission ``member`` holds or is about to hold (superusers: all of them)."""
    if member.is_superuser:
        return frozenset(p.key for p in permissions.catalogue())
    rows = await db.execute(
        select(GroupMembership.is_chair, Group.permissions, Group.chair_permissions)
        .join(Group, Group.id == GroupMembership.group_id)
        .where(
            GroupMembership.member_id == member.id,
            or_(
                GroupMembership.until.is_(None),
                # not ended, and not cancelled before it began (an empty period)
                and_(
                    GroupMembership.until >= today, GroupMembership.until >= GroupMembership.since
                ),
            ),
            or_(Group.until.is_(None), Group.until >= today),
        )
    )
    held: set[str] = set()
    for is_chair, granted, chair_granted in rows:
        held.update(granted or ())
        if is_chair:
            held.update(chair_granted or ())
    return frozenset(held)


async def protection(
    db: AsyncSession,
    actor: Member,
    actor_perms: frozenset[str],
    target: Member,
    today: dt.date,
) -> str | None:
    """Why ``actor`` may not act on ``target``'s account, or None when they may."""
    if actor.id == target.id or actor.is_superuser:
        return None
    name = target.display_name
    if target.is_superuser:
        return f"{name} is a superuser: only a superuser may change their account."
    missing = await standing(db, target, today) - actor_perms
    if not missing:
        return None
    labels = ", ".join(
        sorted((perm.label if (perm := permissions.get(key)) else key) for key in missing)
    )
    return (
        f"{name} holds permissions you do not hold ({labels}): only someone who holds them "
        "all, or a superuser, may change their account."
    )


async def protected_ids(
    db: AsyncSession, actor: Member | None, actor_perms: frozenset[str], today: dt.date
) -> set[int]:
    """Every member ``actor`` may not act on (``protection`` for many members at once, for
    bulk runs): superusers and holders of a permission the actor lacks. ``actor`` None is
    the command line (the operator acts on everyone); a superuser acts on everyone."""
    if actor is None or actor.is_superuser:
        return set()
    protected = set(
        (await db.execute(select(Member.id).where(Member.is_superuser.is_(True)))).scalars()
    )
    rows = await db.execute(
        select(
            GroupMembership.member_id,
            GroupMembership.is_chair,
            Group.permissions,
            Group.chair_permissions,
        )
        .join(Group, Group.id == GroupMembership.group_id)
        .where(
            or_(
                GroupMembership.until.is_(None),
                # not ended, and not cancelled before it began (an empty period)
                and_(
                    GroupMembership.until >= today, GroupMembership.until >= GroupMembership.since
                ),
            ),
            or_(Group.until.is_(None), Group.until >= today),
        )
    )
    for member_id, is_chair, granted, chair_granted in rows:
        held = set(granted or ()) | (set(chair_granted or ()) if is_chair else set())
        if held - actor_perms:
            protected.add(member_id)
    protected.discard(actor.id)
    return protected


async def refusal(request: Request, target: Member) -> str | None:
    """``protection`` for the page's user, their permissions and the organisation's date."""
    state = request.state
    return await protection(state.db, state.user, state.perms, target, clock.today(state.site))


async def require_may_act(request: Request, target: Member) -> None:
    """For routes: refuse with 403 and the reason."""
    reason = await refusal(request, target)
    if reason:
        raise HTTPException(403, reason)
