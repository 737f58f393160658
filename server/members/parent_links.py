"""A minor's parent link needs an adult, active parent at all times (brief §2).

When a parent stops qualifying — deactivated, deleted, or no longer an adult after a
corrected birth date — ``end_links_to`` ends the link of every member linked to them,
in the caller's transaction: each child's status is recomputed (a minor without a
parent cannot log in), one ``member.parent_link_ended`` audit row per child, an email
to each child and one to the Membership Office. Linking a parent (``actions.link_parent``)
locks the parent's row, so a link cannot be made to a parent being deactivated meanwhile.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.log import changes, record, snapshot
from server.auth.sessions import end_all
from server.database import utcnow
from server.db.transactions import lock_for_write
from server.mail.outbox import queue_email
from server.members.ageup import age_up_member
from server.members.models import Member
from server.members.status import LOGIN_STATUSES, is_adult, label, refresh_status
from server.settings.store import load_settings

ACTION = "member.parent_link_ended"
FACTS = ["parent_id", "status"]
WHY = {
    "deactivated": "the parent's account was deactivated",
    "deleted": "the parent's account was deleted",
    "minor": "the parent is recorded as under 18",
}


def may_be_parent(member: Member, today: dt.date) -> bool:
    """An adult member who is neither deactivated nor deleted."""
    return (
        member.deactivated_at is None
        and member.deleted_at is None
        and is_adult(member.birth_month, member.birth_year, today)
    )


def _why(parent: Member, today: dt.date) -> str:
    if parent.deleted_at is not None:
        return "deleted"
    if parent.deactivated_at is not None:
        return "deactivated"
    return "minor"


async def end_links_to(
    db: AsyncSession, parent: Member, *, actor_id: int | None, today: dt.date
) -> list[Member]:
    """End every link to ``parent`` if they can no longer be a parent; the children changed.

    Nothing happens (and no query runs) while ``parent`` still qualifies. The caller
    commits; the children's cards are marked stale by their flush.
    """
    if may_be_parent(parent, today):
        return []
    await lock_for_write(db)
    children = list(
        (
            await db.execute(
                select(Member)
                .where(Member.parent_id == parent.id, Member.deleted_at.is_(None))
                .order_by(Member.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalars()
    )
    if not children:
        return []
    why = _why(parent, today)
    ended: list[Member] = []
    for child in children:
        if age_up_member(db, child, today, actor_id):
            continue  # turned 18 meanwhile: age-up ended the link and wrote its own row
        before = snapshot(child, FACTS)
        child.parent_id = None
        refresh_status(child, today)
        child.modified_at = utcnow()
        child.modified_by_id = actor_id
        old, new = changes(before, snapshot(child, FACTS))
        record(
            db,
            actor_id=actor_id,
            action=ACTION,
            entity=child,
            member_id=child.id,
            before=old,
            after=new,
            note=f"Parent link to {parent.display_name} (#{parent.id}) ended: {WHY[why]}.",
        )
        ended.append(child)
        if child.status not in LOGIN_STATUSES:  # their sessions end, not just pause
            await end_all(db, child.id, "parent_link_ended")
    await db.flush()
    if ended:
        await _tell(db, parent, ended, why)
    return ended


async def ended_words(db: AsyncSession, children: list[Member]) -> str:
    """What the officer's message says of the links ``end_links_to`` ended: whose, and
    who is told (the Membership Office only when its address is set)."""
    if not children:
        return ""
    names = ", ".join(c.display_name for c in children)
    if (await load_settings(db)).get("membership_office_email"):
        return f"The parent link of {names} ended; they and the Membership Office are told."
    return (
        f"The parent link of {names} ended; they are told. The Membership Office is not: "
        "no Membership Office email is set in the settings."
    )


async def _tell(db: AsyncSession, parent: Member, children: list[Member], why: str) -> None:
    site = await load_settings(db)
    for child in children:
        queue_email(
            db,
            to=child.email,
            template="parent_link_ended",
            context={
                "member": child,
                "parent": parent,
                "site": site,
                "status": label(child.status),
            },
            member_id=child.id,
        )
    office = site.get("membership_office_email")
    if office:
        queue_email(
            db,
            to=office,
            template="parent_link_ended_office",
            context={
                "parent": parent,
                "children": [(c, label(c.status)) for c in children],
                "why": WHY[why],
                "site": site,
            },
        )
