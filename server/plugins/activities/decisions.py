"""Authorizers vote on requests; enough approvals activate; admins revoke.

Votes on one request are serialised by locking its row (``SELECT … FOR UPDATE`` on
PostgreSQL; on SQLite ``lock_for_write`` takes the database's write lock), so two approvals at the
same moment are both counted and the request activates exactly once.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.log import record
from server.auth.access import has_permission
from server.db.transactions import lock_for_write
from server.members.models import Member
from server.plugins.activities import terms
from server.plugins.activities.models import (
    APPROVED,
    DENIED,
    PENDING,
    REPLACED,
    REVOKED,
    Activity,
    Authorization,
    AuthorizationVote,
)
from server.plugins.activities.notify import ActivityError, changed

MAX_NOTE = 2000


async def _locked(db: AsyncSession, authorization_id: int) -> Authorization:
    await lock_for_write(db)
    authorization = await db.scalar(
        select(Authorization)
        .where(Authorization.id == authorization_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if authorization is None:
        raise ActivityError("There is no such authorization.")
    return authorization


async def vote(
    db: AsyncSession,
    *,
    authorization_id: int,
    authorizer: Member,
    approve: bool,
    note: str,
    today: dt.date,
) -> Authorization:
    """Steps: 1. lock the request; 2. it is still pending; 3. the authorizer is neither the
    member nor the requester; 4. holds the activity's permission today; 5. an approval of
    a renewal needs the authorization it renews not to have been revoked since it was
    asked for (revoking must not be undone by the renewal's fewer approvals); 6. has not
    voted; 7. record the vote — a denial decides, approvals activate once there are enough."""
    authorization = await _locked(db, authorization_id)
    if authorization.status != PENDING:
        raise ActivityError("This request was already decided.")
    if authorizer.id in (authorization.member_id, authorization.requested_by_id):
        raise ActivityError("You cannot decide on your own request.")
    activity = await db.get_one(Activity, authorization.activity_id)
    if not await has_permission(db, authorizer, activity.authorize_permission, today):
        raise ActivityError(f"You may not authorize {activity.name}.")
    if len(note) > MAX_NOTE:
        raise ActivityError(f"The note must be at most {MAX_NOTE} characters.")
    if approve and authorization.is_renewal and await _revoked_since(db, authorization):
        raise ActivityError(
            f"The {activity.name} authorization this request renews was revoked after it "
            "was asked for: it cannot be approved as a renewal. Deny it; the member may ask "
            "for a new authorization."
        )
    already = await db.scalar(
        select(AuthorizationVote.id).where(
            AuthorizationVote.authorization_id == authorization.id,
            AuthorizationVote.authorizer_id == authorizer.id,
        )
    )
    if already is not None:
        raise ActivityError("You have already voted on this request.")
    db.add(
        AuthorizationVote(
            authorization_id=authorization.id,
            authorizer_id=authorizer.id,
            approve=approve,
            note=note,
        )
    )
    try:
        await db.flush()
    except IntegrityError:
        raise ActivityError("You have already voted on this request.") from None
    member = await db.get_one(Member, authorization.member_id)
    if not approve:
        authorization.status = DENIED
        authorization.decided_at = dt.datetime.now(dt.UTC)
        await changed(
            db,
            event="denied",
            authorization=authorization,
            activity=activity,
            member=member,
            actor_id=authorizer.id,
            before={"status": PENDING},
            note=note,
        )
        return authorization
    approvals = await db.scalar(
        select(func.count())
        .select_from(AuthorizationVote)
        .where(
            AuthorizationVote.authorization_id == authorization.id,
            AuthorizationVote.approve.is_(True),
        )
    )
    needed = activity.approvals_renewal if authorization.is_renewal else activity.approvals_new
    if (approvals or 0) >= needed:
        await _activate(db, authorization, activity, member, authorizer, today)
    return authorization


async def _revoked_since(db: AsyncSession, renewal: Authorization) -> bool:
    revoked = await db.scalar(
        select(Authorization.id)
        .where(
            Authorization.member_id == renewal.member_id,
            Authorization.activity_id == renewal.activity_id,
            Authorization.status == REVOKED,
            Authorization.revoked_at >= renewal.requested_at,
        )
        .limit(1)
    )
    return revoked is not None


async def _activate(
    db: AsyncSession,
    authorization: Authorization,
    activity: Activity,
    member: Member,
    actor: Member,
    today: dt.date,
) -> None:
    """Approve from today (expiry = today + term); a previous approved one becomes replaced
    (its own audit row: the member's history shows when and by which renewal)."""
    previous = await db.scalar(
        select(Authorization).where(
            Authorization.member_id == authorization.member_id,
            Authorization.activity_id == authorization.activity_id,
            Authorization.status == APPROVED,
        )
    )
    if previous is not None:
        previous.status = REPLACED
        previous.replaced_by_id = authorization.id
        await db.flush()  # free the one-approved index before this one takes it
        record(
            db,
            actor_id=actor.id,
            action="authorization.replaced",
            entity=previous,
            member_id=member.id,
            before={"status": APPROVED},
            after={"status": REPLACED, "replaced_by_id": authorization.id},
            note=f"replaced by the renewal, authorization {authorization.id}",
        )
    authorization.status = APPROVED
    authorization.decided_at = dt.datetime.now(dt.UTC)
    authorization.start_on = today
    authorization.expires_on = terms.expiry_for(today, activity.term_months)
    await changed(
        db,
        event="approved",
        authorization=authorization,
        activity=activity,
        member=member,
        actor_id=actor.id,
        before={"status": PENDING},
        note=f"replaces authorization {previous.id}" if previous is not None else "",
    )


async def revoke(
    db: AsyncSession, *, authorization_id: int, actor: Member, reason: str, today: dt.date
) -> Authorization:
    """An admin with ``manage_activities`` revokes an approved authorization, with a reason."""
    if not await has_permission(db, actor, "manage_activities", today):
        raise ActivityError("You need the 'manage_activities' permission to revoke.")
    reason = reason.strip()
    if not reason:
        raise ActivityError("Give a reason for the revocation.")
    if len(reason) > MAX_NOTE:
        raise ActivityError(f"The reason must be at most {MAX_NOTE} characters.")
    authorization = await _locked(db, authorization_id)
    if authorization.status != APPROVED:
        raise ActivityError("Only an approved authorization can be revoked.")
    authorization.status = REVOKED
    authorization.revoked_by_id = actor.id
    authorization.revoked_at = dt.datetime.now(dt.UTC)
    authorization.revoked_reason = reason
    await changed(
        db,
        event="revoked",
        authorization=authorization,
        activity=await db.get_one(Activity, authorization.activity_id),
        member=await db.get_one(Member, authorization.member_id),
        actor_id=actor.id,
        before={"status": APPROVED},
        note=reason,
    )
    return authorization
