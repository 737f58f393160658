"""Changing members: the one place edits are checked, applied, status-refreshed and audited.

Other areas (status actions, applicants, plugins) call these functions instead of
writing ``Member`` columns themselves, so every change gets the same checks.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from server.audit.log import changes, record, snapshot
from server.auth.reset import void_open_links
from server.auth.sessions import end_all
from server.database import utcnow
from server.members.ageup import age_up_member, age_up_new_member
from server.members.email_change import announce_email_change
from server.members.models import Member
from server.members.parent_links import end_links_to
from server.members.status import LOGIN_STATUSES, refresh_status

STALE_MESSAGE = "This member was changed by someone else — reload the page and try again."
EMAIL_TAKEN_MESSAGE = "Another member already uses this email address."
BIRTH_FIELDS = frozenset({"birth_month", "birth_year"})


class MemberChangeError(Exception):
    """A change that was refused; ``str(exc)`` is the message for the user."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class StaleMember(MemberChangeError):
    def __init__(self) -> None:
        super().__init__(STALE_MESSAGE)


class EmailTaken(MemberChangeError):
    def __init__(self) -> None:
        super().__init__(EMAIL_TAKEN_MESSAGE, "email")


def email_key(email: str) -> str:
    return email.strip().lower()


async def email_in_use(db: AsyncSession, email: str, exclude_id: int | None = None) -> bool:
    """Whether a member who is not deleted has this address (case-insensitive)."""
    query = select(func.count()).select_from(Member).where(Member.email_key == email_key(email))
    if exclude_id is not None:
        query = query.where(Member.id != exclude_id)
    return bool(await db.scalar(query))


async def save_member(
    db: AsyncSession,
    member: Member,
    values: dict[str, Any],
    *,
    actor_id: int | None,
    expected_version: int | None = None,
    action: str = "member.update",
    today: dt.date,
    note: str = "",
) -> dict[str, Any]:
    """Apply ``values`` to ``member``, refresh its status, audit before → after.

    1. A form's version that is not the member's current one: ``StaleMember``.
    2. A new email already used by another member: ``EmailTaken``.
    3. Age up a member the stored record already makes due (``ageup.age_up_member``: its
       own ``member.age_up`` row, exactly as the nightly job would have written).
    4. Apply the values and recompute the status (not a deleted member's); audit the
       change as ``action``; a new login email is announced to the old address
       (``email_change``).
    5. Age up a member the change itself made due (a corrected birth date).
    6. Nothing changed: return ``{}`` (no write, no audit row).
    7. Flush (the version column refuses a concurrent write: ``StaleMember``).

    Returns the changed fields with their new values (age-up included). The caller commits.
    """
    if expected_version is not None and expected_version != member.version:
        raise StaleMember
    if "email" in values:
        values = {**values, "email": values["email"].strip()}
        if email_key(values["email"]) != member.email_key and await email_in_use(
            db, values["email"], exclude_id=member.id
        ):
            raise EmailTaken
    stored = snapshot(member)
    aged_up = age_up_member(db, member, today, actor_id)
    before = snapshot(member)
    for key, value in values.items():
        setattr(member, key, value)
    if "email" in values and member.deleted_at is None:
        member.email_key = email_key(member.email)
    if member.deleted_at is None:  # a deleted record keeps its status, as in the nightly
        refresh_status(member, today)
    old, new = changes(before, snapshot(member))
    if before.get("status") in LOGIN_STATUSES and member.status not in LOGIN_STATUSES:
        await end_all(db, member.id, "may_not_log_in")  # e.g. a birth date made them a minor
    if new:
        member.modified_at = utcnow()
        member.modified_by_id = actor_id
        record(
            db,
            actor_id=actor_id,
            action=action,
            entity=member,
            member_id=member.id,
            before=old,
            after=new,
            note=note,
        )
        old_email = old.get("email")
        if "email" in new and old_email and email_key(old_email) != member.email_key:
            await announce_email_change(db, member, old_email, actor_id)
            await void_open_links(db, member.id, member.modified_at)  # mailed to the old one
    aged_up = age_up_member(db, member, today, actor_id) or aged_up
    if not new and not aged_up:
        return {}
    try:
        await db.flush()
    except StaleDataError:
        raise StaleMember from None
    changed = changes(stored, snapshot(member))[1]
    if BIRTH_FIELDS & changed.keys():  # a parent recorded as a minor can no longer be one
        await end_links_to(db, member, actor_id=actor_id, today=today)
    return changed


async def create_member(
    db: AsyncSession,
    values: dict[str, Any],
    *,
    actor_id: int | None,
    action: str = "member.create",
    today: dt.date,
    note: str = "",
) -> Member:
    """A new member with the status from the table; audited. The caller commits."""
    email = values.get("email", "").strip()
    if not email:
        raise MemberChangeError("Email is required.", "email")
    if await email_in_use(db, email):
        raise EmailTaken
    member = Member(**{**values, "email": email})
    member.email_key = email_key(email)
    member.created_by_id = actor_id
    member.modified_by_id = actor_id
    age_up_new_member(member, today)
    refresh_status(member, today)
    db.add(member)
    await db.flush()
    record(
        db,
        actor_id=actor_id,
        action=action,
        entity=member,
        member_id=member.id,
        after=snapshot(member),
        note=note,
    )
    return member


async def soft_delete(
    db: AsyncSession, member: Member, *, actor_id: int, reason: str, today: dt.date
) -> list[Member]:
    """Hide a member from lists and free the email; every row about them stays.

    Minors linked to the member as their parent lose the link (``parent_links``); they
    are returned.
    """
    before = snapshot(member, ["deleted_at", "deleted_by_id", "is_staff"])
    member.deleted_at = utcnow()
    member.deleted_by_id = actor_id
    member.email_key = None
    member.is_staff = False
    member.modified_at = member.deleted_at
    await end_all(db, member.id, "deleted")
    member.modified_by_id = actor_id
    try:
        await db.flush()
    except StaleDataError:
        raise StaleMember from None
    record(
        db,
        actor_id=actor_id,
        action="member.delete",
        entity=member,
        member_id=member.id,
        before=before,
        after=snapshot(member, ["deleted_at", "deleted_by_id", "is_staff"]),
        note=reason,
    )
    return await end_links_to(db, member, actor_id=actor_id, today=today)
