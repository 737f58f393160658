"""Logging in: password check, lockout, and the status table's login rule."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.passwords import verify_password
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


async def attempt_login(session: AsyncSession, email: str, password: str) -> LoginResult:
    """Check a login attempt and record its outcome (the caller commits).

    1. Unknown email: spend the same hashing time, answer "do not match".
    2. Locked (5 failures, 5 minutes): refuse; the attempt extends the lock.
    3. Wrong password: count the failure; the fifth locks the account.
    4. Right password but a status that may not log in: refuse with the reason.
    5. Otherwise: clear the failures, record last_login.
    """
    now = utcnow()
    member = await find_by_email(session, email)
    if member is None:
        verify_password(None, password)
        return LoginResult(None, BAD_CREDENTIALS)
    if member.locked_until is not None and member.locked_until > now:
        await _record_failure(session, member, now, extend_lock=True)
        return LoginResult(None, LOCKED)
    if not verify_password(member.password_hash, password):
        await _record_failure(session, member, now, extend_lock=False)
        locked = member.failed_login_attempts + 1 >= MAX_FAILURES
        return LoginResult(None, LOCKED if locked else BAD_CREDENTIALS)
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


async def _record_failure(
    session: AsyncSession, member: Member, now: dt.datetime, *, extend_lock: bool
) -> None:
    # A single UPDATE so concurrent failures are all counted (no read-modify-write).
    attempts = Member.failed_login_attempts + 1
    values: dict[str, object] = {"failed_login_attempts": attempts, "last_failed_login": now}
    if extend_lock or member.failed_login_attempts + 1 >= MAX_FAILURES:
        values["locked_until"] = now + LOCKOUT
    await session.execute(
        update(Member)
        .where(Member.id == member.id)
        .values(**values)
        .execution_options(synchronize_session=False, **CARD_UNCHANGED)
    )
