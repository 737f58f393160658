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
# Every failed login gets these words, whether the address is unknown, the password
# wrong, or the account locked (its password unchecked): nothing tells a guesser which.
BAD_CREDENTIALS = (
    "That email and password do not match an account (after too many failed attempts an "
    "account is locked for a few minutes: wait, or reset your password)."
)
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

    Every path hashes once, and every failure gets the same words whether the email is
    unknown, the password wrong or the account locked: the lockout tells nobody that an
    address exists, nor whether a password tried while locked was right.

    1. Unknown email: spend the same hashing time, answer "do not match".
    2. Known email (``password_attempt``): the attempt is counted before its password is
       checked; the fifth locks the account for 5 minutes, an attempt while locked
       extends the lock and is not checked at all; "do not match" — unless from a browser
       this account logged in from before (``server.auth.devices``): there the right
       password opens the account while it is locked, so strangers' failures do not
       lock its owner out.
    3. Right password, a status that may not log in: refuse with the reason.
    4. Otherwise: clear the failures, record last_login.
    """
    now = utcnow()
    member = await find_by_email(session, email)
    if member is None:
        await verify_password_off_loop(None, password)
        return LoginResult(None, BAD_CREDENTIALS)
    outcome = await password_attempt(session, member, password, now, known_device=known_device)
    if outcome == "wrong":
        return LoginResult(None, BAD_CREDENTIALS)
    if outcome == "locked":  # the same words: the lock is no oracle for guessers
        return LoginResult(None, BAD_CREDENTIALS)
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

    Every attempt is counted *before* its password is checked (``_admit``: one UPDATE the
    database works out from the row as it is then, committed at once), so guesses sent at
    the same moment are counted in turn and only the first ``MAX_FAILURES`` since the
    last success or lock are checked at all: a burst of parallel guesses tries five
    passwords, not as many as are in flight. The fifth locks the account for 5 minutes
    (undone if it was right); an attempt while locked extends the lock and is
    ``locked`` without its password being checked (the same hashing is spent), so the
    answer says nothing about whether it was right: the lock is no oracle. A lock that
    has run out is forgotten (the count starts again from one). A right password clears
    the count. From a ``known_device`` the password is checked even while locked (a
    stranger's guesses do not keep the owner out); its attempts count all the same (the
    login route holds the device itself to ``MAX_FAILURES``, counted the same way).
    """
    now = now or utcnow()
    if not await _admit(session, member, now) and not known_device:
        await verify_password_off_loop(None, password)  # the same cost as a checked one
        return "locked"
    if await verify_password_off_loop(member.password_hash, password):
        await _set(session, member, failed_login_attempts=0, locked_until=None)
        await session.commit()  # whatever the caller does next, a right password counts
        return "right"
    return "wrong"


async def _admit(session: AsyncSession, member: Member, now: dt.datetime) -> bool:
    """Count one attempt on ``member`` and commit it, before its password is checked;
    whether it is among the ``MAX_FAILURES`` that may be checked."""
    expired = Member.locked_until <= now  # NULL (no lock) is neither expired nor in force
    locked_now = Member.locked_until > now
    attempts = case((expired, 1), else_=Member.failed_login_attempts + 1)
    counted = await session.execute(
        update(Member)
        .where(Member.id == member.id)
        .values(
            failed_login_attempts=attempts,
            last_failed_login=now,
            locked_until=case(
                (or_(locked_now, attempts >= MAX_FAILURES), now + LOCKOUT), else_=None
            ),
        )
        .returning(Member.failed_login_attempts)
        .execution_options(synchronize_session=False, **CARD_UNCHANGED)
    )
    count = counted.scalar_one()
    # Committed before the slow hashing: concurrent attempts see this one at once (and
    # no write lock is held while the password is checked).
    await session.commit()
    return bool(count <= MAX_FAILURES)


async def _set(session: AsyncSession, member: Member, **values: object) -> None:
    await session.execute(
        update(Member)
        .where(Member.id == member.id)
        .values(**values)
        .execution_options(synchronize_session=False, **CARD_UNCHANGED)
    )
