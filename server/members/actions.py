"""The status actions of brief §2, one service function each.

Every action: checks its preconditions on the server (``ActionRefused`` with a message
otherwise), refuses a stale form (``Member.version``), ages up a member the stored record
already makes due (``_begin``), changes the facts, recomputes the status through
``refresh_status``, writes one audit row with before/after, ages up a member the change
made due (a reactivated adult with a parent link), and flushes — inside the caller's
transaction. Age-up writes its own ``member.age_up`` row (``server.members.ageup``). A
concurrent update found at flush time (``StaleDataError``) becomes the same "changed by
someone else" refusal.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from server.audit.log import changes, record, snapshot
from server.auth.precedence import OWN_MEMBERSHIP, own_membership_refused
from server.auth.sessions import end_all
from server.database import utcnow
from server.db.transactions import lock_for_write
from server.members.ageup import age_up_member
from server.members.models import Member
from server.members.parent_links import end_links_to, ended_words
from server.members.service import STALE_MESSAGE
from server.members.status import is_adult, label, refresh_status

FACTS = [
    "status",
    "membership_number",
    "membership_expires_on",
    "verified_by_id",
    "verified_at",
    "parent_id",
    "deactivated_at",
    "deactivation_reason",
]
MAX_PARENT_CHAIN = 100


class ActionRefused(Exception):
    """A precondition failed; ``message`` says why, and nothing was written."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StaleMember(ActionRefused):
    def __init__(self) -> None:
        super().__init__(STALE_MESSAGE)


def _check(member: Member, expected_version: int) -> None:
    if member.is_deleted:
        raise ActionRefused("This member has been deleted.")
    if member.version != expected_version:
        raise StaleMember()


def _begin(db: AsyncSession, member: Member, actor: Member, today: dt.date) -> dict[str, object]:
    """Age up a due member first (as the nightly would have); the facts the action starts from."""
    age_up_member(db, member, today, actor.id)
    return snapshot(member, FACTS)


async def _finish(
    db: AsyncSession,
    member: Member,
    actor: Member,
    action: str,
    before: dict[str, object],
    today: dt.date,
    note: str = "",
) -> str:
    refresh_status(member, today)
    member.modified_at = utcnow()
    member.modified_by_id = actor.id
    old, new = changes(before, snapshot(member, FACTS))
    record(
        db,
        actor_id=actor.id,
        action=action,
        entity=member,
        member_id=member.id,
        before=old,
        after=new,
        note=note,
    )
    age_up_member(db, member, today, actor.id)
    try:
        await db.flush()
    except StaleDataError:
        raise StaleMember() from None
    return label(member.status)


async def verify_membership(
    db: AsyncSession,
    member: Member,
    actor: Member,
    *,
    expected_version: int,
    number: str,
    expires_on: dt.date | None,
    today: dt.date,
) -> str:
    _check(member, expected_version)
    if own_membership_refused(actor, member):
        raise ActionRefused(OWN_MEMBERSHIP)
    number = number.strip()
    if not number or expires_on is None:
        raise ActionRefused("Verifying a membership needs the membership number and expiry date.")
    if expires_on < today:
        raise ActionRefused(
            f"That membership expired on {expires_on.isoformat()}; only a current membership "
            "can be verified."
        )
    before = _begin(db, member, actor, today)
    member.membership_number = number
    member.membership_expires_on = expires_on
    member.verified_by_id = actor.id
    member.verified_at = utcnow()
    status = await _finish(db, member, actor, "member.verify_membership", before, today)
    return f"Membership verified for {member.display_name}. Status: {status}."


async def _parent_chain_reaches(db: AsyncSession, start_id: int | None, target_id: int) -> bool:
    seen: set[int] = set()
    current = start_id
    while current is not None and current not in seen and len(seen) < MAX_PARENT_CHAIN:
        if current == target_id:
            return True
        seen.add(current)
        current = await db.scalar(select(Member.parent_id).where(Member.id == current))
    return False


async def link_parent(
    db: AsyncSession,
    member: Member,
    actor: Member,
    *,
    expected_version: int,
    parent_email: str,
    today: dt.date,
) -> str:
    _check(member, expected_version)
    if is_adult(member.birth_month, member.birth_year, today):
        raise ActionRefused("Only members under 18 have a parent linked; this member is an adult.")
    key = parent_email.strip().lower()
    if not key:
        raise ActionRefused("Enter the parent's email address.")
    await lock_for_write(db)  # a parent being deactivated meanwhile is seen (parent_links)
    parent = (
        await db.execute(
            select(Member)
            .where(Member.email_key == key)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if parent is None:
        raise ActionRefused(f"No member has the email address {parent_email.strip()}.")
    if parent.id == member.id:
        raise ActionRefused("A member cannot be their own parent.")
    if parent.is_deactivated:
        raise ActionRefused(f"{parent.display_name} is deactivated and cannot be a parent.")
    if not is_adult(parent.birth_month, parent.birth_year, today):
        raise ActionRefused(f"{parent.display_name} is under 18 and cannot be a parent.")
    if parent.id == member.parent_id:
        raise ActionRefused(f"{parent.display_name} is already linked as the parent.")
    if await _parent_chain_reaches(db, parent.parent_id, member.id):
        raise ActionRefused(
            f"{parent.display_name} descends from this member; linking would make a cycle."
        )
    before = _begin(db, member, actor, today)
    member.parent_id = parent.id
    status = await _finish(db, member, actor, "member.link_parent", before, today)
    return f"{parent.display_name} is now linked as the parent. Status: {status}."


async def clear_membership(
    db: AsyncSession,
    member: Member,
    actor: Member,
    *,
    expected_version: int,
    today: dt.date,
    reason: str = "",
) -> str:
    _check(member, expected_version)
    if (
        member.verified_at is None
        and member.membership_number is None
        and member.membership_expires_on is None
    ):
        raise ActionRefused("This member has no membership information to clear.")
    before = _begin(db, member, actor, today)
    member.membership_number = None
    member.membership_expires_on = None
    member.verified_by_id = None
    member.verified_at = None
    status = await _finish(
        db, member, actor, "member.clear_membership", before, today, note=reason.strip()
    )
    return f"Membership information cleared. Status: {status}."


async def deactivate(
    db: AsyncSession,
    member: Member,
    actor: Member,
    *,
    expected_version: int,
    reason: str,
    today: dt.date,
) -> str:
    _check(member, expected_version)
    reason = reason.strip()
    if member.is_deactivated:
        raise ActionRefused("This member is already deactivated.")
    if member.id == actor.id:
        raise ActionRefused("You cannot deactivate your own account.")
    if not reason:
        raise ActionRefused("Give a reason for the deactivation.")
    before = _begin(db, member, actor, today)
    member.deactivated_at = utcnow()
    member.deactivation_reason = reason
    await end_all(db, member.id, "deactivated")
    await _finish(db, member, actor, "member.deactivate", before, today, note=reason)
    children = await end_links_to(db, member, actor_id=actor.id, today=today)
    ended = await ended_words(db, children)
    return f"{member.display_name} is deactivated." + (f" {ended}" if ended else "")


async def reactivate(
    db: AsyncSession, member: Member, actor: Member, *, expected_version: int, today: dt.date
) -> str:
    _check(member, expected_version)
    if not member.is_deactivated:
        raise ActionRefused("This member is not deactivated.")
    before = _begin(db, member, actor, today)
    member.deactivated_at = None
    member.deactivation_reason = ""
    status = await _finish(db, member, actor, "member.reactivate", before, today)
    return f"{member.display_name} is reactivated. Status: {status}."
