"""Logging in: password check, lockout, and the status table's login rule."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.passwords import verify_password_off_loop
from server.cards.invalidation import CARD_UNCHANGED
from server.database import utcnow
from server.db.rowcount import rowcount
from server.members.models import Member
from server.members.status import BY_KEY

MAX_FAILURES = 5
LOCKOUT = dt.timedelta(minutes=5)

REFUSAL_REASONS = {
    "deactivated": "Your account has been deactivated.",
    "minor_unverified": (
        "Members under 18 can log in once a parent or guardian's account has been linked to theirs."
    ),
    "minor_membership_verified": (
        "Your membership is verified, but members under 18 can log in only once a parent or "
        "guardian's account has been linked to theirs."
    ),
}
BAD_CREDENTIALS = "That email and password do not match an account."
LOCKED = "Too many failed attempts. Try again in a few minutes."


@dataclass(frozen=True)
class LoginResult:
    member: Member | None
    error: str | None = None
    contact_needed: bool = False


async def find_by_email(session: AsyncSession, email: str) -> Member | None:
    key = email.strip().lower()
    if not key:
        return None
    return (
        await session.execute(select(Member).where(Member.email_key == key))
    ).scalar_one_or_none()


async def attempt_login(
    session: AsyncSession, email: str, password: str, *, known_device: bool = False
) -> LoginResult:
    """Check a login attempt and record its outcome (the caller commits).

    Every path hashes once, and a wrong password gets the same words whether the email
    is unknown, known, or locked: the lockout tells nobody that an address exists.

    1. Unknown email: spend the same hashing time, answer "do not match".
    2. Wrong password (``password_attempt``): count the failure, the fifth locks the
       account for 5 minutes, a failure while locked extends the lock; "do not match".
    3. Right password while locked: "Too many failed attempts" (only someone who knows
       the password learns of the lock) — unless from a browser this account logged in
       from before (``server.auth.devices``): strangers' failures do not lock it out.
    4. Right password, a status that may not log in: refuse with the reason.
    5. Otherwise: clear the failures, record last_login.
    """
    now = utcnow()
    member = await find_by_email(session, email)
    if member is None:
        await verify_password_off_loop(None, password)
        return LoginResult(None, BAD_CREDENTIALS)
    outcome = await password_attempt(session, member, password, now, known_device=known_device)
    if outcome == "wrong":
        return LoginResult(None, BAD_CREDENTIALS)
    if outcome == "locked":
        return LoginResult(None, LOCKED)
    status = BY_KEY.get(member.status)
    if status is None or not status.can_log_in:
        reason = REFUSAL_REASONS.get(member.status, "Your account may not log in.")
        return LoginResult(None, reason, contact_needed=True)
    await session.execute(
        update(Member)
        .where(Member.id == member.id)
        .values(failed_login_attempts=0, locked_until=None, last_login=now)
        .execution_options(synchronize_session=False, **CARD_UNCHANGED)
    )
    await session.refresh(member)
    return LoginResult(member)


Attempt = Literal["right", "wrong", "locked"]


async def password_attempt(
    session: AsyncSession,
    member: Member,
    password: str,
    now: dt.datetime | None = None,
    *,
    known_device: bool = False,
) -> Attempt:
    """Check ``member``'s password against the lockout (login and ``/me/password`` alike).

    A lock that has expired is forgotten first: the counter starts again from zero, so
    one typo after a lock does not lock again. A wrong password is counted with a
    single UPDATE whose counter and lock are worked out by the database from the row as
    it is then, so failures arriving at the same moment are all counted and the fifth
    locks the account for 5 minutes, whatever the order; a failure while locked extends
    the lock. A right password while locked — also locked by failures committed while
    this one was being checked — is ``locked`` and clears nothing; from a
    ``known_device`` it is ``right``.
    """
    now = now or utcnow()
    lock = member.locked_until
    locked = lock is not None and lock > now
    # The row as it is when the UPDATE runs (it waits for, then sees, concurrent
    # failures): a lock that has run out (NULL: no lock, neither expired nor in force).
    expired = Member.locked_until <= now
    if await verify_password_off_loop(member.password_hash, password):
        if known_device:
            if lock is not None and not locked:
                await _set(session, member, failed_login_attempts=0, locked_until=None)
            return "right"
        if locked:
            return "locked"
        # Still not locked, and an expired lock forgotten.
        unlocked = await session.execute(
            update(Member)
            .where(Member.id == member.id, or_(Member.locked_until.is_(None), expired))
            .values(
                failed_login_attempts=case((expired, 0), else_=Member.failed_login_attempts),
                locked_until=None,
            )
            .execution_options(synchronize_session=False, **CARD_UNCHANGED)
        )
        return "right" if rowcount(unlocked) == 1 else "locked"
    locked_now = Member.locked_until > now
    failures = case((expired, 1), else_=Member.failed_login_attempts + 1)
    await _set(
        session,
        member,
        failed_login_attempts=failures,
        last_failed_login=now,
        locked_until=case(
            (or_(locked_now, failures >= MAX_FAILURES), now + LOCKOUT),
            else_=None,
        ),
    )
    return "wrong"


async def _set(session: AsyncSession, member: Member, **values: object) -> None:
    await session.execute(
        update(Member)
        .where(Member.id == member.id)
        .values(**values)
        .execution_options(synchronize_session=False, **CARD_UNCHANGED)
    )
