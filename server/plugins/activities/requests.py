"""A member asks to be authorized (or renewed), and may take a pending request back.

Each function checks everything on the server, changes the rows, writes the audit row and
queues the email; the caller commits (one transaction). Refusals raise ``ActivityError``
and change nothing.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.transactions import lock_for_write
from server.members.models import Member
from server.members.status import age_on, is_adult
from server.plugins.activities import terms
from server.plugins.activities.models import APPROVED, PENDING, RETRACTED, Activity, Authorization
from server.plugins.activities.notify import ActivityError, changed


def may_act_for(actor: Member, member: Member, today: dt.date) -> bool:
    """The member themselves, or the parent of a minor."""
    if actor.id == member.id:
        return True
    minor = not is_adult(member.birth_month, member.birth_year, today)
    return minor and member.parent_id == actor.id


def age_problem(activity: Activity, member: Member, today: dt.date) -> str | None:
    """Why ``member``'s age rules the activity out today, or None. A missing limit is no limit."""
    if activity.minimum_age is None and activity.maximum_age is None:
        return None
    age = age_on(member.birth_month, member.birth_year, today)
    if age is None:
        return f"{activity.name} has age limits and your birth month and year are not recorded."
    if activity.minimum_age is not None and age < activity.minimum_age:
        return f"{activity.name} needs an age of at least {activity.minimum_age} (you are {age})."
    if activity.maximum_age is not None and age > activity.maximum_age:
        return f"{activity.name} is for ages up to {activity.maximum_age} (you are {age})."
    return None


async def holding(
    db: AsyncSession, member_id: int, activity_id: int, status: str
) -> Authorization | None:
    return await db.scalar(
        select(Authorization).where(
            Authorization.member_id == member_id,
            Authorization.activity_id == activity_id,
            Authorization.status == status,
        )
    )


async def request_authorization(
    db: AsyncSession,
    *,
    member: Member,
    activity: Activity,
    actor: Member,
    renewal: bool,
    today: dt.date,
) -> Authorization:
    """Steps: 1. the actor may act for the member; 2. member and activity are live;
    3. age limits; 4. no pending request already; 5. a renewal needs a current approved
    authorization, a new request needs none; 6. insert, audit, email."""
    if not may_act_for(actor, member, today):
        raise ActivityError("You can only request authorizations for yourself or your minor child.")
    if member.is_deleted or member.is_deactivated:
        raise ActivityError("This member is deactivated; nothing can be requested for them.")
    if not activity.is_active:
        raise ActivityError(f"{activity.name} is no longer offered.")
    problem = age_problem(activity, member, today)
    if problem:
        raise ActivityError(problem)
    if await holding(db, member.id, activity.id, PENDING) is not None:
        raise ActivityError(f"There is already a pending request for {activity.name}.")
    current = await holding(db, member.id, activity.id, APPROVED)
    current_ok = current is not None and terms.is_current(current.expires_on, today)
    if renewal and not current_ok:
        raise ActivityError(f"A renewal needs a current authorization for {activity.name}.")
    if not renewal and current_ok:
        raise ActivityError(
            f"You already hold a current authorization for {activity.name}; request a renewal."
        )
    authorization = Authorization(
        member_id=member.id,
        activity_id=activity.id,
        status=PENDING,
        is_renewal=renewal,
        requested_by_id=actor.id,
        revoked_reason="",
    )
    db.add(authorization)
    try:
        await db.flush()
    except IntegrityError:  # a concurrent request won the one-pending index
        raise ActivityError(f"There is already a pending request for {activity.name}.") from None
    await changed(
        db,
        event="requested",
        authorization=authorization,
        activity=activity,
        member=member,
        actor_id=actor.id,
    )
    return authorization


async def retract(
    db: AsyncSession, *, authorization: Authorization, member: Member, actor: Member, today: dt.date
) -> None:
    """The member (or their parent) takes back a request that is still pending."""
    if authorization.member_id != member.id or not may_act_for(actor, member, today):
        raise ActivityError("You can only retract your own requests.")
    await lock_for_write(db)
    await db.refresh(authorization, with_for_update=True)
    if authorization.status != PENDING:
        raise ActivityError("This request is no longer pending; it cannot be retracted.")
    activity = await db.get_one(Activity, authorization.activity_id)
    authorization.status = RETRACTED
    authorization.decided_at = dt.datetime.now(dt.UTC)
    await changed(
        db,
        event="retracted",
        authorization=authorization,
        activity=activity,
        member=member,
        actor_id=actor.id,
        before={"status": PENDING},
    )
