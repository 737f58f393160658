"""What every authorization change does besides the change: audit row and email."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.log import record, snapshot
from server.cards.invalidation import invalidate
from server.mail.outbox import queue_email
from server.members.models import Member
from server.plugins.activities.models import Activity, Authorization

# Subjects of the member's email, by event.
EVENTS: dict[str, str] = {
    "requested": "Your request for {activity} is waiting for authorizers",
    "approved": "You are authorized for {activity}",
    "denied": "Your request for {activity} was denied",
    "revoked": "Your authorization for {activity} was revoked",
    "retracted": "You retracted your request for {activity}",
}


class ActivityError(Exception):
    """A refused action; the message says why, in words for the person who tried."""


async def changed(
    db: AsyncSession,
    *,
    event: str,
    authorization: Authorization,
    activity: Activity,
    member: Member,
    actor_id: int | None,
    before: dict[str, object] | None = None,
    note: str = "",
) -> None:
    """Audit ``event``, email the member and mark their mobile card stale (caller's transaction)."""
    await invalidate(db, [member.id])
    record(
        db,
        actor_id=actor_id,
        action=f"authorization.{event}",
        entity=authorization,
        member_id=member.id,
        before=before,
        after=snapshot(authorization),
        note=note,
    )
    queue_email(
        db,
        to=member.email,
        template="authorization_update",
        context={
            "subject": EVENTS[event].format(activity=activity.name),
            "event": event,
            "member": member,
            "activity": activity,
            "authorization": authorization,
            "note": note,
        },
        member_id=member.id,
    )
