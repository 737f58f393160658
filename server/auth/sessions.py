"""Server-side login sessions: revocable, with an idle timeout and an absolute lifetime.

The signed cookie carries ``sid`` (32 random bytes, base64url) and the member's ``uid``;
the ``login_sessions`` row holds only the SHA-256 of ``sid``, so the table never holds a
usable session. A logged-in request costs one indexed lookup (``lookup``: the row joined
to its member). The last-seen time, and with it the idle deadline, is written at most
every ``TOUCH_EVERY`` (``touch``), so a marshal's stream of checks writes nothing per
request. The two limits are app settings (``session_idle_hours``,
``session_lifetime_days``); a changed limit reaches a running session at its next touch.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from server.auth.models import LoginSession
from server.database import utcnow
from server.db.busy import is_busy
from server.db.transactions import without_waiting
from server.members.models import Member
from server.nightly.registry import nightly_job
from server.settings.models import SettingValue
from server.settings.registry import get_definition

TOUCH_EVERY = dt.timedelta(minutes=5)
KEEP_ENDED = dt.timedelta(days=90)
LIMIT_KEYS = ("session_idle_hours", "session_lifetime_days")


def token_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


async def limits(db: AsyncSession) -> tuple[dt.timedelta, dt.timedelta]:
    """(idle timeout, absolute lifetime) from the app settings."""
    values = {key: get_definition(key).default for key in LIMIT_KEYS}
    rows = await db.execute(
        select(SettingValue.key, SettingValue.value).where(SettingValue.key.in_(LIMIT_KEYS))
    )
    values.update({key: value for key, value in rows if isinstance(value, int)})
    return (
        dt.timedelta(hours=values["session_idle_hours"]),
        dt.timedelta(days=values["session_lifetime_days"]),
    )


async def begin(db: AsyncSession, member: Member, user_agent: str = "") -> str:
    """A new session row for ``member``; returns the id for the cookie. The caller commits."""
    idle, lifetime = await limits(db)
    now = utcnow()
    sid = secrets.token_urlsafe(32)
    db.add(
        LoginSession(
            member_id=member.id,
            token_hash=token_hash(sid),
            created_at=now,
            last_seen_at=now,
            idle_expires_at=now + idle,
            expires_at=now + lifetime,
            user_agent=user_agent[:200],
        )
    )
    return sid


async def lookup(
    db: AsyncSession, sid: str, now: dt.datetime
) -> tuple[LoginSession, Member] | None:
    """The open session with this id and its member, or None (unknown, ended, expired)."""
    if not sid or len(sid) > 100:
        return None
    row = (
        await db.execute(
            select(LoginSession, Member)
            .join(Member, Member.id == LoginSession.member_id)
            .where(LoginSession.token_hash == token_hash(sid))
        )
    ).first()
    if row is None:
        return None
    login, member = row
    if login.ended_at is not None or login.expires_at <= now or login.idle_expires_at <= now:
        return None
    return login, member


async def touch(db: AsyncSession, login: LoginSession, now: dt.datetime) -> bool:
    """Move the idle deadline on, at most every ``TOUCH_EVERY``; commits when it writes.

    The limits are read again here, so a shortened one applies to a session used again
    after it changed: one idle (or open) longer than the limit now allows ends instead
    of being extended. Returns whether the session still works. Runs before the page
    does anything else, so its commit carries nothing else.
    """
    if now - login.last_seen_at < TOUCH_EVERY:
        return True
    idle, lifetime = await limits(db)
    if now >= login.last_seen_at + idle or now >= login.created_at + lifetime:
        reason = "idle" if now >= login.last_seen_at + idle else "expired"
        await _bookkeeping(db, lambda side: end_by_id(side, login.id, reason))  # or later
        return False
    values = {
        "last_seen_at": now,
        "idle_expires_at": now + idle,
        "expires_at": min(login.expires_at, login.created_at + lifetime),
    }
    moved = (
        update(LoginSession)
        .where(LoginSession.id == login.id, LoginSession.ended_at.is_(None))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if await _bookkeeping(db, lambda side: side.execute(moved)):
        return True  # busy: the next request moves the deadline on
    for key, value in values.items():  # as written, without a second write at the page's flush
        set_committed_value(login, key, value)
    return True


async def end(db: AsyncSession, sid: str, reason: str) -> None:
    """End the session with this id (logout). The caller commits."""
    await db.execute(
        update(LoginSession)
        .where(LoginSession.token_hash == token_hash(sid), LoginSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
        .execution_options(synchronize_session=False)
    )


async def end_by_id(db: AsyncSession, session_id: int, reason: str) -> None:
    """End one session by its row id. The caller commits."""
    await db.execute(
        update(LoginSession)
        .where(LoginSession.id == session_id, LoginSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
        .execution_options(synchronize_session=False)
    )


async def end_all(db: AsyncSession, member_id: int, reason: str) -> int:
    """End every open session of a member (password change, deactivation, …).

    Runs in the caller's transaction, so the sessions end exactly when the change lands.
    """
    result = await db.execute(
        update(LoginSession)
        .where(LoginSession.member_id == member_id, LoginSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def open_sessions(db: AsyncSession, member_id: int) -> list[LoginSession]:
    """The member's sessions that still work, most recently used first (for ``/me``)."""
    now = utcnow()
    rows = await db.execute(
        select(LoginSession)
        .where(
            LoginSession.member_id == member_id,
            LoginSession.ended_at.is_(None),
            LoginSession.expires_at > now,
            LoginSession.idle_expires_at > now,
        )
        .order_by(LoginSession.last_seen_at.desc())
    )
    return list(rows.scalars())


@nightly_job("login_sessions", order=95)
async def purge_old_sessions(db: AsyncSession, today: dt.date) -> str:
    """Forget sessions that ended (or expired) more than 90 days ago."""
    cutoff = utcnow() - KEEP_ENDED
    count = await db.scalar(
        select(func.count()).select_from(LoginSession).where(_finished_before(cutoff))
    )
    await db.execute(delete(LoginSession).where(_finished_before(cutoff)))
    return f"{count or 0} old login sessions forgotten"


def _finished_before(cutoff: dt.datetime) -> ColumnElement[bool]:
    return or_(
        LoginSession.ended_at < cutoff,
        LoginSession.expires_at < cutoff,
        LoginSession.idle_expires_at < cutoff,
    )


async def _bookkeeping(db: AsyncSession, write: Callable[[AsyncSession], Awaitable[Any]]) -> bool:
    """Run ``write`` in a short transaction of its own beside the page's ``db`` and commit
    it, without waiting for a busy database; True when the database was busy and nothing
    was written. The page goes on all the same (a long write elsewhere must not turn a
    page view into a 503), its own session and objects untouched either way."""
    async with AsyncSession(db.bind, expire_on_commit=False) as side:
        try:
            async with without_waiting(side):
                await write(side)
                await side.commit()
        except Exception as exc:
            if not is_busy(exc):
                raise
            return True
    return False
