"""A member's login email changing: the old address is told, and stays told for a day.

Whoever changes a login email (an officer on the edit page, any other caller of
``save_member``), the old address gets a notice in the same transaction. For 24 hours
after such a change a password reset is announced to the old address too
(``server.auth.reset``): an officer who changes someone's email to their own and asks
for a reset cannot do it silently.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.models import AuditEntry
from server.database import utcnow
from server.mail.outbox import queue_email
from server.members.models import Member
from server.settings.store import load_settings

RECENT = dt.timedelta(hours=24)


async def announce_email_change(
    db: AsyncSession, member: Member, old_email: str, actor_id: int | None
) -> None:
    """Queue the notice to ``old_email`` (the caller commits)."""
    actor = None if actor_id is None else await db.get(Member, actor_id)
    queue_email(
        db,
        to=old_email,
        template="email_changed",
        context={
            "member": member,
            "old_email": old_email,
            "new_email": member.email,
            "actor": actor if actor is not None and actor.id != member.id else None,
            "site": await load_settings(db),
        },
        member_id=member.id,
    )


async def recent_old_addresses(
    db: AsyncSession, member_id: int, now: dt.datetime | None = None
) -> list[str]:
    """The addresses this member's login email was changed away from in the last 24 hours."""
    now = now or utcnow()
    rows = await db.execute(
        select(AuditEntry.before)
        .where(
            AuditEntry.member_id == member_id,
            AuditEntry.entity_type == Member.__tablename__,
            AuditEntry.at > now - RECENT,
        )
        .order_by(AuditEntry.id)
    )
    found: list[str] = []
    for (before,) in rows:
        old = (before or {}).get("email")
        if isinstance(old, str) and old and old.lower() not in {a.lower() for a in found}:
            found.append(old)
    return found
