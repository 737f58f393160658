"""Password reset by an emailed link: random token, stored hashed, 24 h, single use.

When the member's login email changed in the last 24 hours, the address it changed from
is told about the reset too (``server.members.email_change``). Setting the password ends
every session of the member. Setting the password any way, or changing the login email,
uses up every link still open (``void_open_links``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.log import record
from server.auth.login import find_by_email
from server.auth.models import PasswordResetToken
from server.auth.passwords import hash_password_off_loop
from server.auth.sessions import end_all
from server.database import utcnow
from server.db.rowcount import rowcount
from server.mail.outbox import queue_email
from server.mail.sealed import seal
from server.members.email_change import recent_old_addresses
from server.members.locks import lock_members
from server.members.models import Member

LIFETIME = dt.timedelta(hours=24)
MAX_PER_HOUR = 3


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def request_reset(
    session: AsyncSession,
    email: str,
    base_url: str,
    site_title: str,
    secret_key: str,
    contact: str = "",
) -> None:
    """Queue a reset email if the address belongs to a member; silent otherwise.

    The link is sealed in the outbox (opened only by the delivery loop and the outbox
    viewer), so the database never holds a usable token: only its hash.
    """
    member = await find_by_email(session, email)
    if member is None:
        return
    await lock_members(session, [member.id])  # requests at the same moment count in turn
    now = utcnow()
    recent = await session.scalar(
        select(func.count())
        .select_from(PasswordResetToken)
        .where(
            PasswordResetToken.member_id == member.id,
            PasswordResetToken.created_at > now - dt.timedelta(hours=1),
        )
    )
    if (recent or 0) >= MAX_PER_HOUR:
        return
    token = secrets.token_urlsafe(32)
    session.add(
        PasswordResetToken(
            member_id=member.id, token_hash=token_hash(token), expires_at=now + LIFETIME
        )
    )
    queue_email(
        session,
        to=member.email,
        template="password_reset",
        context={
            "member": member,
            "link": seal(f"{base_url}/password-reset/{token}", secret_key),
            "site_title": site_title,
        },
        member_id=member.id,
    )
    for old_email in await recent_old_addresses(session, member.id, now):
        queue_email(
            session,
            to=old_email,
            template="password_reset_notice",
            context={
                "member": member,
                "old_email": old_email,
                "new_email": member.email,
                "site_title": site_title,
                "contact": contact,
            },
            member_id=member.id,
        )


async def void_open_links(session: AsyncSession, member_id: int, now: dt.datetime) -> None:
    """Use up every reset link of the member not yet used: a link mailed before the
    password was set, or to the login email before it changed, opens nothing any more."""
    await session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.member_id == member_id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )


async def valid_token(session: AsyncSession, token: str) -> PasswordResetToken | None:
    if not token or len(token) > 100:
        return None
    row = (
        await session.execute(
            select(PasswordResetToken).where(PasswordResetToken.token_hash == token_hash(token))
        )
    ).scalar_one_or_none()
    if row is None or row.used_at is not None or row.expires_at < utcnow():
        return None
    return row


class TokenUsed(Exception):
    """The link was used by a concurrent request."""


async def complete_reset(session: AsyncSession, row: PasswordResetToken, password: str) -> Member:
    """Set the password, use up this and every other open token, clear the lockout."""
    hashed = await hash_password_off_loop(password)  # before the writes: not under the lock
    now = utcnow()
    claimed = await session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.id == row.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    )
    if rowcount(claimed) != 1:
        raise TokenUsed
    member = await session.get(Member, row.member_id)
    assert member is not None
    await void_open_links(session, member.id, now)
    member.password_hash = hashed
    await end_all(session, member.id, "password_reset")
    member.failed_login_attempts = 0
    member.locked_until = None
    member.modified_at = now
    record(
        session,
        actor_id=member.id,
        action="member.password_reset",
        entity=member,
        member_id=member.id,
    )
    return member
